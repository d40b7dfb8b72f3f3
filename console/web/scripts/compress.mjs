// Writes a gzip twin of every text file in dist/ over 1 KiB; the server sends it to
// browsers that accept gzip (console/src/lib.rs).
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, constants } from "node:zlib";

const TEXT = /\.(html|js|mjs|css|json|svg|txt)$/;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (TEXT.test(name) && statSync(path).size > 1024) {
      writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: constants.Z_BEST_COMPRESSION }));
    }
  }
}
walk(new URL("../dist", import.meta.url).pathname);
