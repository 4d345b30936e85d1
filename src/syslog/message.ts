import type { EventRecord } from '../site/events.js';

/**
 * RFC 5424 messages of the event log, framed for RFC 5425 (TLS) by octet counting.
 * Structured data uses the enterprise number 32473, which RFC 5612 reserves for documentation
 * and examples: Gatehouse has none of its own.
 */
export const SD_ID = 'gatehouse@32473';
const FACILITY_LOG_AUDIT = 13;
const SEVERITY: Record<EventRecord['outcome'], number> = { ok: 5, denied: 4, failed: 3 };
/** Field names whose values never leave the appliance, should an event ever carry one. */
const SECRET_FIELD = /pass(word)?|secret|token|credential|private/i;

/** PRINTUSASCII without spaces, as HOSTNAME, APP-NAME and MSGID must be; NILVALUE if empty. */
function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean || '-';
}

/** PARAM-VALUE: '"', '\' and ']' are escaped with a backslash (RFC 5424 6.3.3). */
const paramValue = (value: string) => value.replace(/["\\\]]/g, (c) => `\\${c}`);

function redact(details: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(details).map(([k, v]) => [
      k,
      SECRET_FIELD.test(k)
        ? '[redacted]'
        : v && typeof v === 'object' && !Array.isArray(v)
          ? redact(v as Record<string, unknown>)
          : v,
    ]),
  );
}

/** One event as an RFC 5424 message (without framing). */
export function formatEvent(event: EventRecord, procId: number | string): string {
  const pri = FACILITY_LOG_AUDIT * 8 + SEVERITY[event.outcome];
  const header = [
    `<${pri}>1`,
    new Date(event.ts).toISOString(),
    headerField(event.appliance, 255),
    'gatehouse',
    headerField(String(procId), 128),
    headerField(event.action, 32),
  ].join(' ');
  const params = {
    id: event.id,
    area: event.area,
    actor: event.actor,
    target: event.target,
    outcome: event.outcome,
  };
  const sd = `[${SD_ID} ${Object.entries(params)
    .map(([k, v]) => `${k}="${paramValue(v)}"`)
    .join(' ')}]`;
  const text = `${event.action} by ${event.actor} (${event.area})${event.target ? ` on ${event.target}` : ''}: ${event.outcome} ${JSON.stringify(redact(event.details))}`;
  // The BOM says the message is UTF-8 (RFC 5424 6.4).
  return `${header} ${sd} \ufeff${text}`;
}

/** RFC 5425 octet counting: the message's length in bytes, a space, the message. */
export const frame = (message: string) => `${Buffer.byteLength(message)} ${message}`;
