import type { RecordingFrame, RecordingHeader } from '../sessions/recording.js';

const PREVIEW = 60;

/** A printable preview of bytes: text as is (escaped), binary as hex. */
function preview(data: Buffer): string {
  const head = data.subarray(0, PREVIEW);
  const text = head.toString('utf8');
  const printable = /^[\x20-\x7e\t\r\n]*$/.test(text);
  const shown = printable ? JSON.stringify(text) : head.toString('hex');
  return data.length > PREVIEW ? `${shown}…` : shown;
}

/** The timeline of a recording, one line per chunk, as `console replay` prints it. */
export function replayText(rec: {
  header: RecordingHeader;
  frames: RecordingFrame[];
  truncated: boolean;
}): string {
  const { header, frames } = rec;
  const total = (d: RecordingFrame['direction']) =>
    frames.filter((f) => f.direction === d).reduce((n, f) => n + f.data.length, 0);
  const lines = [
    `Session ${header.session} on ${header.appliance}`,
    `  ${header.representative} → ${header.jumpClient} → ${header.target}, started ${new Date(header.startedAt).toISOString()}`,
    `  ${frames.length} chunks: ${total('to-target')} bytes to the target, ${total('from-target')} bytes back`,
  ];
  for (const f of frames)
    lines.push(
      `+${(f.at / 1000).toFixed(3).padStart(9)}s ${f.direction === 'to-target' ? '→' : '←'} ${String(f.data.length).padStart(7)} B  ${preview(f.data)}`,
    );
  if (rec.truncated)
    lines.push('(the recording ends mid-chunk: the appliance stopped during the session)');
  return lines.join('\n') + '\n';
}
