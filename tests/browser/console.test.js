// The web console in headless Chromium, against a running idle-local at IDLE_LOCAL_URL
// (scripts/browser-test.sh starts one): connect as a fresh player, queue a harvest, watch it
// complete and land in the inventory, see a refused task explained, and cancel a long task.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.IDLE_LOCAL_URL;
const shots = process.env.SCREENSHOT_DIR || tmpdir();
const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

test("the console connects, queues a harvest and shows it complete", { timeout: 90_000 }, async () => {
  assert.ok(base, "set IDLE_LOCAL_URL to the runtime's http://127.0.0.1:PORT");
  const profile = mkdtempSync(join(tmpdir(), "idle-console-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    const pageErrors = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    const player = `browser-${Date.now().toString(36)}`;

    // Given a fresh player, connected through the auto-connect link
    await page.goto(`${base}/?player=${player}`);
    await page.locator("#status", { hasText: "online" }).waitFor({ timeout: 15_000 });
    await page.locator("#inventory", { hasText: "Coins" }).waitFor();
    await page.locator("#equipment", { hasText: "Bronze sickle" }).waitFor();
    assert.match(await page.locator("#levels").innerText(), /Harvesting level 1/);

    // When they queue two guam leaf harvests at the meadow
    await page.selectOption("#activity", "harvest");
    await page.selectOption("#location", "meadow");
    await page.selectOption("#target", "guam_leaf");
    await page.fill("#quantity", "2");
    await page.click("#enqueue-button");

    // Then the task runs with a progress bar, completes, and the leaves are in the inventory
    await page.locator('#queue li[data-status="running"]').waitFor({ timeout: 15_000 });
    await page.locator("#feed li.task_started").waitFor();
    await page.screenshot({ path: join(shots, "console-running.png"), fullPage: true });
    await page.locator("#feed li.task_completed").waitFor({ timeout: 30_000 });
    await page.locator("#inventory", { hasText: "Guam leaf" }).waitFor({ timeout: 10_000 });
    await page.locator("#queue-empty").waitFor();
    const completed = await page.locator("#feed li.task_completed").innerText();
    assert.match(completed, /completed: 2\/2 succeeded, \+\d+ XP, \d+ Guam leaf/);
    await page.screenshot({ path: join(shots, "console.png"), fullPage: true });

    // And a task the player cannot do is explained in words, not codes alone
    await page.selectOption("#activity", "combat");
    await page.selectOption("#target", "dragon");
    await page.fill("#quantity", "1");
    await page.click("#enqueue-button");
    const error = page.locator("#error");
    await error.waitFor({ state: "visible", timeout: 15_000 });
    const text = await error.innerText();
    assert.match(text, /dragon|Dragon|level/i, text);
    assert.doesNotMatch(text, /[{}]/, "no raw JSON in the error");
    await page.screenshot({ path: join(shots, "console-error.png"), fullPage: true });

    // And a long task can be cancelled from the queue
    await page.selectOption("#target", "chicken");
    await page.fill("#quantity", "20");
    await page.click("#enqueue-button");
    const running = page.locator('#queue li[data-status="running"]');
    await running.waitFor({ timeout: 15_000 });
    await running.locator("button.cancel").click();
    await page.locator("#feed li.task_cancelled").waitFor({ timeout: 15_000 });
    await page.locator("#queue-empty").waitFor();

    assert.deepEqual(pageErrors, []);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
