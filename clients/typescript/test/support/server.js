// Starts and stops idle-local for the client tests: on a free loopback port first, then again on
// the same port (a restart), with a data directory so state survives the restart.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const binary = process.env.IDLE_LOCAL_BIN || join(here, "../../../../target/debug/idle-local");

export class LocalServer {
  constructor() {
    this.dataDir = mkdtempSync(join(tmpdir(), "idle-client-test-"));
    this.base = undefined; // http://127.0.0.1:PORT
    this.child = undefined;
    this.log = "";
  }

  /** Starts idle-local: on a free port the first time, on the same port afterwards. */
  async start() {
    const listen = this.base ? this.base.replace(/^http:\/\//, "") : "127.0.0.1:0";
    // The old process's port can take a moment to be free; try again a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.spawnOnce(listen);
        return;
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  spawnOnce(listen) {
    return new Promise((resolve, reject) => {
      const child = spawn(binary, ["--listen", listen, "--tick-ms", "100", "--data-dir", this.dataDir], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (chunk) => {
        out += chunk;
        const found = /listening on\s+(\S+)/.exec(out);
        if (found && !this.child) {
          this.base = found[1];
          this.child = child;
          resolve();
        }
      });
      child.stderr.on("data", (chunk) => (this.log = (this.log + chunk).slice(-20_000)));
      child.on("error", reject);
      child.on("exit", (code) => {
        if (this.child === child) this.child = undefined;
        else reject(new Error(`idle-local exited with ${code} before listening: ${this.log.slice(-2000)}`));
      });
    });
  }

  /** Stops it gracefully (SIGTERM: it saves its state and closes every socket with 1001). */
  async stop() {
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
    this.child = undefined;
  }

  /** A fresh dev token for `player` (idle-local serves them on loopback). */
  async token(player) {
    const response = await fetch(`${this.base}/dev/token?player_id=${encodeURIComponent(player)}`);
    if (!response.ok) throw new Error(`dev token: ${response.status} ${await response.text()}`);
    return response.json(); // { token, ws_url, … }
  }

  async dispose() {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
