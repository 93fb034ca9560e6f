/**
 * Browser demo: fetch a saved model (config.json + tokenizer.json + .safetensors) and show the similarity of
 * every pair of sentences typed into the text box. Bundled by `npx tsx scripts/build-browser.ts`.
 * The model folder defaults to ./model/ and can be set with ?model=<url of folder>, or a hub repo with
 * ?hub=<org/name[@rev]> (&endpoint=<hub URL> for a mirror). Files are kept in the Cache API, so a reload
 * does not download the model again.
 */
import { loadFromHub, loadFromUrl, type StaticModel } from '../../src/embed/index.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

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
  const hub = params.get('hub');
  const base = hub ?? new URL(params.get('model') ?? './model/', location.href).href;
  const status = $('status');
  const input = $<HTMLTextAreaElement>('sentences');
  try {
    const t0 = performance.now();
    const model = hub ? await loadFromHub(hub, { endpoint: params.get('endpoint') ?? undefined }) : await loadFromUrl(base);
    status.textContent =
      `Loaded ${base}: ${model.info.format}, ${model.info.vocabSize} tokens × ${model.dim} dims ` +
      `(${((performance.now() - t0) / 1000).toFixed(2)} s), ${model.binary ? 'Hamming' : 'cosine'} similarity`;
    status.dataset.state = 'ready';
    let timer: ReturnType<typeof setTimeout> | undefined;
    const update = () => {
      const sentences = input.value
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean);
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
