// The web console in headless Chromium, against a running idle-local at IDLE_LOCAL_URL
// (scripts/browser-test.sh starts one): connect as a fresh player, queue the form's defaults and
// watch them complete through the TypeScript client, queue a harvest and see it land in the inventory, see locked targets
// marked, see a refused task explained, and cancel a long task.
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

    // When they press Queue on the form as it comes
    const defaults = `${await page.inputValue("#activity")} ${await page.inputValue("#target")} at ${await page.inputValue("#location")}`;
    await page.click("#enqueue-button");

    // Then the default task is one a new player can do: it completes and is not rejected
    const ended = page.locator("#feed li.task_completed, #feed li.task_failed").first();
    await ended.waitFor({ timeout: 30_000 });
    assert.equal(await ended.getAttribute("class"), "task_completed", `${defaults}: ${await ended.innerText()}`);
    assert.equal(await page.locator("#error").isVisible(), false, await page.locator("#error").innerText());
    await page.locator("#queue-empty").waitFor();

    // And the console spoke through the TypeScript client (clients/typescript), which has
    // delivered the task's notifications in seq order
    const lastSeq = await page.evaluate(() => window.idleClient && window.idleClient.lastSeq);
    assert.ok(lastSeq > 0, `the client's last seq: ${lastSeq}`);

    // And targets beyond the player's levels are shown locked, with the level they need
    const option = (select, value) => page.locator(`${select} option[value="${value}"]`);
    assert.equal(await option("#location", "forest").isDisabled(), true);
    assert.match(await option("#location", "forest").textContent(), /locked: needs character level 5/);
    assert.equal(await option("#location", "meadow").isDisabled(), false);
    await page.selectOption("#activity", "combat");
    assert.equal(await option("#target", "dragon").isDisabled(), true);
    assert.match(await option("#target", "dragon").textContent(), /locked: needs combat level 50/);
    assert.equal(await option("#target", "chicken").isDisabled(), false);
    await page.screenshot({ path: join(shots, "console-locked.png"), fullPage: true });

    // When they queue two guam leaf harvests at the meadow
    await page.selectOption("#activity", "harvest");
    await page.selectOption("#location", "meadow");
    await page.selectOption("#target", "guam_leaf");
    await page.fill("#quantity", "2");
    await page.click("#enqueue-button");

    // Then the task runs with a progress bar, completes, and the leaves are in the inventory
    await page.locator('#queue li[data-status="running"]').waitFor({ timeout: 15_000 });
    await page.locator("#feed li.task_started", { hasText: "Guam leaf" }).waitFor();
    await page.screenshot({ path: join(shots, "console-running.png"), fullPage: true });
    const harvested = page.locator("#feed li.task_completed", { hasText: "Guam leaf" });
    await harvested.waitFor({ timeout: 30_000 });
    await page.locator("#inventory", { hasText: "Guam leaf" }).waitFor({ timeout: 10_000 });
    await page.locator("#queue-empty").waitFor();
    const completed = await harvested.innerText();
    assert.match(completed, /completed: 2\/2 succeeded, \+\d+ XP, \d+ Guam leaf/);
    await page.screenshot({ path: join(shots, "console.png"), fullPage: true });

    // And a task the player cannot do yet (too few leaves for 100 tonics) is explained in
    // words, not codes alone
    await page.selectOption("#activity", "craft");
    await page.selectOption("#target", "healing_tonic");
    await page.fill("#quantity", "100");
    await page.click("#enqueue-button");
    const error = page.locator("#error");
    await error.waitFor({ state: "visible", timeout: 15_000 });
    const text = await error.innerText();
    assert.match(text, /needs 200 guam/i, text);
    assert.doesNotMatch(text, /[{}]/, "no raw JSON in the error");
    await page.screenshot({ path: join(shots, "console-error.png"), fullPage: true });

    // And a long task can be cancelled from the queue
    await page.selectOption("#activity", "combat");
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
