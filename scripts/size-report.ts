/**
 * What the binary's size is made of, and what the build options save (docs/packaging.md):
 *
 *   bun scripts/size-report.ts [--target bun-linux-x64-baseline]
 *
 * Compiles into a temporary directory, for one target: the release build (--minify, as
 * scripts/build.ts), without --minify, with --bytecode, and an empty program (the Bun
 * runtime alone: the floor no change to our code can go under); bundles the program
 * without the runtime (its JavaScript, minified and not); and lists the largest inputs of
 * the bundle by package. Each binary is also compressed with xz -6. Prints a Markdown table.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

async function exec(argv: string[]): Promise<{ ok: boolean; output: string }> {
  const proc = Bun.spawn(argv, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { ok: code === 0, output: `${out}${err}`.trim() };
}

async function xzBytes(file: string): Promise<number> {
  const proc = Bun.spawn(["xz", "-6", "-T2", "-c", file], { stdout: "pipe" });
  const data = await new Response(proc.stdout).bytes();
  await proc.exited;
  return data.length;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const target = argv[argv.indexOf("--target") + 1] ?? "bun-linux-x64-baseline";
  const work = mkdtempSync(join(tmpdir(), "bgpx-size-"));
  const empty = join(work, "empty.ts");
  writeFileSync(empty, "export {};\n");
  const common = [
    "--sourcemap=none",
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
  ];
  const variants: { name: string; args: string[] }[] = [
    { name: "release (--minify)", args: ["src/main.ts", "--minify", ...common] },
    { name: "without --minify", args: ["src/main.ts", ...common] },
    // --bytecode defaults to CommonJS, which has no top-level await: ESM bytecode it is.
    {
      name: "--minify --bytecode --format=esm",
      args: ["src/main.ts", "--minify", "--bytecode", "--format=esm", ...common],
    },
    {
      name: "--minify --bytecode (CommonJS)",
      args: ["src/main.ts", "--minify", "--bytecode", ...common],
    },
    { name: "empty program (Bun runtime alone)", args: [empty, "--minify", ...common] },
  ];
  const rows: string[] = [];
  try {
    for (const v of variants) {
      const out = join(work, `bin-${rows.length}`);
      const r = await exec([
        BUN,
        "build",
        ...v.args,
        "--compile",
        `--target=${target}`,
        "--outfile",
        out,
      ]);
      if (!r.ok) {
        rows.push(
          `| ${v.name} | fails: ${r.output.split("\n").find((l) => /error/i.test(l)) ?? r.output.slice(0, 120)} | |`,
        );
        continue;
      }
      rows.push(`| ${v.name} | ${mib(statSync(out).size)} | ${mib(await xzBytes(out))} |`);
    }
    for (const minify of [true, false]) {
      const out = join(work, `bundle-${minify}.js`);
      const r = await exec([
        BUN,
        "build",
        "src/main.ts",
        "--target=bun",
        ...(minify ? ["--minify"] : []),
        "--outfile",
        out,
      ]);
      rows.push(
        `| program bundle only (JavaScript${minify ? ", minified" : ""}) | ${r.ok ? mib(statSync(out).size) : "fails"} | |`,
      );
    }
    const meta = join(work, "meta.json");
    await exec([
      BUN,
      "build",
      "src/main.ts",
      "--target=bun",
      "--minify",
      `--metafile=${meta}`,
      "--outdir",
      join(work, "m"),
    ]);
    const inputs = (await Bun.file(meta)
      .json()
      .catch(() => ({ inputs: {} }))) as {
      inputs: Record<string, { bytes: number }>;
    };
    const byPackage = new Map<string, number>();
    for (const [path, input] of Object.entries(inputs.inputs ?? {})) {
      const pkg =
        path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ??
        (path.startsWith("src/") ? "src (bgproxy)" : "other");
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + input.bytes);
    }
    console.log(`Bun ${Bun.version}, target ${target}\n`);
    console.log("| build | binary | xz -6 |\n|---|---|---|");
    for (const r of rows) console.log(r);
    console.log("\n| bundle input (before minifying) | bytes |\n|---|---|");
    for (const [pkg, bytes] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
      console.log(`| ${pkg} | ${(bytes / 1024).toFixed(0)} KiB |`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
