import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { openBrowser, type Browser } from "./browser";
import { startDemoGateway, type DemoGateway } from "./demo-gateway";
import { testFiles } from "./test-files";

export interface DemoPageOptions {
  /**
   * Passed to `openBrowser` (e.g. `bypassCSP` for tests that add a script to the page) for the browser opened before
   * each test; `false` opens none: each test calls `openBrowser` with its own viewport.
   */
  browser?: Parameters<typeof openBrowser>[1] | false;
  /** The gateway's projects (`startDemoGateway`'s first argument); dev mode when omitted. */
  project?: Parameters<typeof startDemoGateway>[0];
  /** Also started once for the file, next to the gateway (e.g. a script bundle the page is given). */
  alongside?: () => Promise<void>;
}

/**
 * What a page test needs, with the calling file's hooks registered: the demo gateway (started once for the file), a
 * fresh Chromium for each test (so no storage is shared between tests), closed after it, and test files on disk.
 */
export function useDemoPage(options: DemoPageOptions = {}) {
  let gateway: DemoGateway | undefined;
  let browser: Browser | undefined;
  const files = testFiles();
  beforeAll(async () => {
    [gateway] = await Promise.all([startDemoGateway(options.project), options.alongside?.()]);
  });
  afterAll(async () => {
    await gateway?.close();
    files.clean();
  });
  beforeEach(async () => {
    if (options.browser !== false) browser = await openBrowser(undefined, options.browser);
  });
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });
  return {
    files,
    get gateway(): DemoGateway {
      if (!gateway) throw new Error("the demo gateway did not start");
      return gateway;
    },
    get browser(): Browser {
      if (!browser) throw new Error("no browser: none was opened for this test");
      return browser;
    },
    /** Opens this test's browser (with `browser: false`), closed after the test. */
    async openBrowser(...args: Parameters<typeof openBrowser>): Promise<Browser> {
      await browser?.close();
      browser = await openBrowser(...args);
      return browser;
    },
  };
}
