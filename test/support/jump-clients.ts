import { toError, type ApplianceClient } from '../../src/clients/admin-client.js';

/** An enrolment token of the site (as /login > Jump Clients creates one): each use enrols one installation. */
export async function enrolmentToken(
  api: ApplianceClient,
  body: { uses?: number; name?: string; rebind?: boolean } = {},
): Promise<string> {
  const res = await api.call<{ token: string }>('POST', '/api/login/jump-clients/tokens', {
    json: { uses: 20, ...body },
  });
  if (res.status !== 201) throw toError(res);
  return res.body.token;
}
