import { z } from 'zod';

/** The event log's search as a person fills it in: words, an area, a page of results. */
export const LOG_SEARCH_FIELDS = {
  q: z.string().max(200, 'must be at most 200 characters').optional(),
  area: z
    .enum(['appliance', 'login', 'system'], { message: "must be 'appliance', 'login' or 'system'" })
    .optional(),
  page: z.coerce
    .number({ message: 'must be a page number from 1' })
    .int('must be a whole number')
    .min(1, 'must be 1 or more')
    .default(1),
};
