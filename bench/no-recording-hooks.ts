/**
 * TEST-ONLY module hooks (see no-recording.ts): the sessions' recording module is served as
 * itself with a `RecordingWriter` whose `append` drops the bytes. The header is still written
 * and the recording finished, so a session's record is made as usual (of no bytes).
 */
interface LoadResult {
  format?: string;
  shortCircuit?: boolean;
  source?: string;
}
type NextLoad = (url: string, context: unknown) => Promise<LoadResult>;

export async function load(url: string, context: unknown, nextLoad: NextLoad): Promise<LoadResult> {
  if (!url.endsWith('/sessions/recording.js')) return nextLoad(url, context);
  const real = JSON.stringify(`${url}?recorded`);
  return {
    format: 'module',
    shortCircuit: true,
    source: [
      `import { RecordingWriter as Recorded } from ${real};`,
      `export * from ${real};`,
      'export class RecordingWriter extends Recorded { append() { return true; } }',
    ].join('\n'),
  };
}
