import { PassThrough, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Multipart } from '@fastify/multipart';
import { repeatedFieldError } from '../form-body.js';

/** The file of a form: its name as the browser gave it, and its content as it arrives. */
export interface UploadedFile {
  filename: string;
  content: Readable;
}

export interface UploadForm<T> {
  /** The text fields, as far as they were read (fields after the file are read too). */
  fields: Record<string, string>;
  /** Whether the form had a file input of that name with a chosen file. */
  chosen: boolean;
  result?: T;
  error?: unknown;
}

/** Read the rest of a file part so the next part (and the response) can follow. */
async function drain(file: Readable): Promise<void> {
  if (file.readableEnded) return;
  file.resume();
  await finished(file).catch(() => undefined);
}

/**
 * Read a multipart form whose file is streamed to `onFile` as it arrives, so only the text
 * fields placed before the file input are known to `onFile`. Whatever `onFile` leaves unread
 * is drained, so the browser always gets the answer rather than a reset connection. A field
 * sent twice is refused (400) once the form is drained; a file after it is not handed over.
 */
export async function readUpload<T>(
  parts: AsyncIterableIterator<Multipart>,
  fileField: string,
  onFile: (file: UploadedFile, fields: Record<string, string>) => Promise<T>,
): Promise<UploadForm<T>> {
  const form: UploadForm<T> = { fields: {}, chosen: false };
  let repeated: string | undefined;
  for await (const part of parts) {
    if (part.type === 'field') {
      if (Object.hasOwn(form.fields, part.fieldname)) repeated ??= part.fieldname;
      form.fields[part.fieldname] = String(part.value);
      continue;
    }
    // An empty file input still sends a part: with no file name and no content.
    if (part.fieldname === fileField && part.filename && !form.chosen && !repeated) {
      form.chosen = true;
      // The handler reads a pipe, not the part itself: a handler that gives up half-way destroys
      // its stream, and a destroyed part would stall the parser instead of being drained.
      const content = new PassThrough();
      part.file.pipe(content);
      try {
        form.result = await onFile({ filename: part.filename, content }, { ...form.fields });
      } catch (e) {
        form.error = e;
      } finally {
        part.file.unpipe(content);
        content.destroy();
      }
    }
    await drain(part.file);
  }
  if (repeated) throw repeatedFieldError(repeated);
  return form;
}
