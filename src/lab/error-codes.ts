/**
 * The error codes of lab/ as typed factories; their codes, statuses and fixes are data, in
 * error-codes.json beside this file. src/shared/errors.ts says how they are thrown.
 */
import { errorCatalogue } from '../shared/errors.js';
import codes from './error-codes.json' with { type: 'json' };

export const labErrors = errorCatalogue(codes);
