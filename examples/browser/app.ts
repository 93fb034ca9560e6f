/**
 * Browser demo: fetch a saved model (config.json + tokenizer.json + .safetensors) and show the similarity of
 * every pair of sentences typed into the text box. Bundled by `npx tsx scripts/build-browser.ts`.
 * The model folder defaults to ./model/ and can be set with ?model=<url of folder>.
 */
import { loadModelFromBuffers, type StaticModel } from '../../src/embed/index.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res;
}

/** Which .safetensors to fetch: pipeline save output names it <name>_<dim>; model2vec uses model.safetensors. */
function weightsFile(config: Record<string, unknown> | undefined): string {
  if (config?.model_type === 'wordllama-ts' && typeof config.name === 'string') {
    const dims = Array.isArray(config.dims) ? (config.dims as number[]) : [Number(config.dim)];
    return `${config.name}_${Math.max(...dims)}.safetensors`;
  }
  return 'model.safetensors';
}

export async function loadFromUrl(base: string): Promise<StaticModel> {
  const folder = base.endsWith('/') ? base : base + '/';
  const cfgRes = await fetch(folder + 'config.json');
  const configJson = cfgRes.ok ? ((await cfgRes.json()) as Record<string, unknown>) : undefined;
  const [tokenizerJson, safetensors] = await Promise.all([
    fetchOk(folder + 'tokenizer.json').then((r) => r.text()),
    fetchOk(folder + weightsFile(configJson)).then((r) => r.arrayBuffer()),
  ]);
  return loadModelFromBuffers({ safetensors, tokenizerJson, configJson }, { source: folder });
}

function render(model: StaticModel, sentences: string[]): void {
  const table = $<HTMLTableElement>('matrix');
  table.textContent = '';
  if (sentences.length === 0) return;
  const t0 = performance.now();
  const sim = model.similarityMatrix(sentences, sentences);
  const ms = performance.now() - t0;
  const head = table.insertRow();
  head.insertCell().textContent = '';
  sentences.forEach((s, j) => {
    const th = document.createElement('th');
    th.textContent = String(j + 1);
    th.title = s;
    head.appendChild(th);
  });
  sentences.forEach((s, i) => {
    const tr = table.insertRow();
    const label = tr.insertCell();
    label.className = 'label';
    label.textContent = `${i + 1}. ${s}`;
    sentences.forEach((_, j) => {
      const v = sim.data[i * sim.cols + j]!;
      const td = tr.insertCell();
      td.className = 'score';
      td.dataset.value = String(v);
      td.dataset.i = String(i);
      td.dataset.j = String(j);
      td.textContent = v.toFixed(3);
      // Shade from white (0 or below) to blue (1).
      const a = Math.max(0, Math.min(1, v));
      td.style.background = `rgba(37, 99, 235, ${(a * 0.85).toFixed(3)})`;
      td.style.color = a > 0.55 ? 'white' : 'black';
    });
  });
  $('timing').textContent = `${sentences.length} sentences embedded and compared in ${ms.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const base = params.get('model') ?? './model/';
  const status = $('status');
  const input = $<HTMLTextAreaElement>('sentences');
  try {
    const t0 = performance.now();
    const model = await loadFromUrl(base);
    status.textContent =
      `Loaded ${base}: ${model.info.format}, ${model.info.vocabSize} tokens × ${model.dim} dims ` +
      `(${((performance.now() - t0) / 1000).toFixed(2)} s), ${model.binary ? 'Hamming' : 'cosine'} similarity`;
    status.dataset.state = 'ready';
    let timer: ReturnType<typeof setTimeout> | undefined;
    const update = () => {
      const sentences = input.value.split('\n').map((s) => s.trim()).filter(Boolean);
      render(model, sentences);
      document.body.dataset.rendered = String(sentences.length);
      // What was rendered, so a test can wait for the final text rather than a count reached mid-typing.
      document.body.dataset.renderedText = sentences.join('\n');
    };
    input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(update, 80);
    });
    update();
    (window as unknown as { embedModel: StaticModel }).embedModel = model;
  } catch (err) {
    status.textContent = `Could not load the model from ${base}: ${(err as Error).message}`;
    status.dataset.state = 'error';
  }
}

void main();
