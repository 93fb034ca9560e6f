/**
 * The few shapes of `fetch` and the environment the library's public options accept. They are written out
 * structurally so the published .d.ts files type-check in a consumer without DOM or Node types; the real
 * `fetch`, `Response`, Cache API and `process.env` all fit them.
 */
export interface FetchedResponse {
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
  json(): Promise<unknown>;
}

export type FetchLike = (url: string, init?: { headers?: Record<string, string> }) => Promise<FetchedResponse>;

/** Environment variables as `process.env` holds them. */
export type EnvLike = Record<string, string | undefined>;
