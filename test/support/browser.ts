import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** The Debian Chromium (scripts/install-test-deps.sh); playwright never downloads a browser here. */
export const CHROMIUM = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';

// The test network is closed: no QUIC, no background requests to Google services.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (own cookies) that accepts the appliance's self-signed certificate. */
  context(): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** Launch headless Chromium; every context accepts downloads and self-signed certificates. */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, timeout: 30_000 });
  return {
    browser,
    context: () =>
      browser.newContext({
        ignoreHTTPSErrors: true,
        acceptDownloads: true,
        viewport: { width: 1280, height: 860 },
      }),
    close: () => browser.close(),
  };
}
