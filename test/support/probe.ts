import https from 'node:https';

/**
 * GET /health on an address shared by several appliances: the name of the one that answered
 * (or why none did). Any certificate is accepted: each appliance has its own, and the question
 * is only who holds the address.
 */
export function whoAnswers(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = https.get(
      { host, port, path: '/health', rejectUnauthorized: false, agent: false, timeout: 1000 },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          try {
            resolve((JSON.parse(body) as { name: string }).name);
          } catch {
            resolve(`bad answer ${res.statusCode}`);
          }
        });
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
    req.on('timeout', () => req.destroy());
  });
}
