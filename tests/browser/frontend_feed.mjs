// Loads the frontend stand-in from PAGE in headless Chromium and prints what it rendered:
// the status line, then one line per crud. Exits 1 if nothing was rendered in 15 s.
import { chromium } from "playwright-core";

const page_url = process.env.PAGE;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // Root on a closed network: no sandbox, and none of Chromium's own calls home.
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  await page.goto(page_url);
  await page.waitForFunction(
    () => document.getElementById("status").textContent !== "loading", null, { timeout: 15000 });
  console.log(await page.textContent("#status"));
  for (const li of await page.locator("#feed li").allTextContents()) console.log(li);
} finally {
  await browser.close();
}
