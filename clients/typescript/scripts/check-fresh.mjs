// Fails when the committed src/protocol.ts or dist/ is not what the build makes from
// docs/asyncapi.json and src/: regenerates both into a temporary folder and compares file by
// file. The fix is `npm run build` and a commit.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(join(tmpdir(), "idle-client-check-"));
const stale = [];
try {
  cpSync(join(root, "src"), join(work, "src"), { recursive: true });
  cpSync(join(root, "tsconfig.json"), join(work, "tsconfig.json"));
  execFileSync(process.execPath, [join(root, "scripts/generate-types.mjs"), join(root, "../../docs/asyncapi.json"), join(work, "src/protocol.ts")], { stdio: "inherit" });
  if (readFileSync(join(work, "src/protocol.ts"), "utf8") !== readFileSync(join(root, "src/protocol.ts"), "utf8")) {
    stale.push("src/protocol.ts");
  }
  const tsc = join(root, "node_modules/typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", join(work, "tsconfig.json")], { stdio: "inherit" });
  const built = readdirSync(join(work, "dist")).sort();
  const committed = readdirSync(join(root, "dist")).sort();
  if (built.join() !== committed.join()) stale.push(`dist/ has [${committed}], the build makes [${built}]`);
  for (const file of built) {
    let old = "";
    try {
      old = readFileSync(join(root, "dist", file), "utf8");
    } catch {}
    if (old !== readFileSync(join(work, "dist", file), "utf8")) stale.push(`dist/${file}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (stale.length > 0) {
  console.error(`stale: ${stale.join(", ")}\nrun \`npm run build\` in clients/typescript and commit the result`);
  process.exit(1);
}
console.log("src/protocol.ts and dist/ are what the build makes");
