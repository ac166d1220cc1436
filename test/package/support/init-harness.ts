/**
 * Runs the OpenWrt procd init script's start_service() in a plain POSIX shell (dash, or
 * busybox ash as on the devices) with stand-ins for OpenWrt's UCI and procd shell helpers
 * that print what the script asks procd to do. UCI values come from a parsed
 * /etc/config/bgproxy (`parseUci`), passed through the environment.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../../support/process.ts";

export interface UciSection {
  readonly type: string;
  readonly options: Map<string, string>;
  readonly lists: Map<string, string[]>;
}

/** The subset of UCI syntax the package ships: config/option/list with quoted values. */
export function parseUci(text: string): Map<string, UciSection> {
  const sections = new Map<string, UciSection>();
  let current: UciSection | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = line.match(/^(config|option|list)\s+(\S+)(?:\s+'([^']*)')?$/);
    if (!m?.[1] || !m[2]) throw new Error(`not a UCI line: ${raw}`);
    if (m[1] === "config") {
      current = { type: m[2], options: new Map(), lists: new Map() };
      sections.set(m[3] ?? `@${m[2]}`, current);
    } else if (!current) {
      throw new Error(`${m[1]} outside a section: ${raw}`);
    } else if (m[1] === "option") {
      current.options.set(m[2], m[3] ?? "");
    } else {
      current.lists.set(m[2], [...(current.lists.get(m[2]) ?? []), m[3] ?? ""]);
    }
  }
  return sections;
}

const STUBS = `
config_load() { [ "$1" = bgproxy ] || { echo "config_load $1" >&2; exit 97; }; }
config_get() {
	eval "_v=\\\${UCI_\${2}_\${3}-}"
	[ -n "$_v" ] || _v="$4"
	eval "$1=\\$_v"
}
config_get_bool() {
	config_get "$@"
	eval "_b=\\\${$1}"
	case "$_b" in
	1 | on | true | yes | enabled) _b=1 ;;
	0 | off | false | no | disabled) _b=0 ;;
	*) _b="$4" ;;
	esac
	eval "$1=\\$_b"
}
config_list_foreach() {
	eval "_list=\\\${UCI_LIST_\${1}_\${2}-}"
	_ifs=$IFS
	IFS='
'
	for _item in $_list; do
		IFS=$_ifs
		"$3" "$_item"
	done
	IFS=$_ifs
}
procd_open_instance() { echo "open_instance $*"; }
procd_close_instance() { echo "close_instance"; }
procd_set_param() { _k=$1; shift; printf 'set %s' "$_k"; printf ' <%s>' "$@"; echo; }
procd_append_param() { _k=$1; shift; printf 'append %s' "$_k"; printf ' <%s>' "$@"; echo; }
procd_add_jail() { printf 'add jail'; printf ' <%s>' "$@"; echo; }
procd_add_reload_trigger() { echo "reload_trigger $*"; }
`;

export interface ProcdCall {
  readonly verb: string;
  readonly key: string;
  readonly values: readonly string[];
}

export interface ProcdInstance {
  readonly command: readonly string[];
  readonly env: ReadonlyMap<string, string>;
  /** Every procd_set_param (set), procd_append_param (append), procd_add_jail (add jail). */
  readonly calls: readonly ProcdCall[];
  readonly opened: boolean;
  readonly triggers: readonly string[];
  /** What the script printed on stderr. */
  readonly stderr: string;
}

function parseCalls(output: string, stderr: string): ProcdInstance {
  const command: string[] = [];
  const env = new Map<string, string>();
  const calls: ProcdCall[] = [];
  const triggers: string[] = [];
  let opened = false;
  for (const line of output.split("\n")) {
    if (line.startsWith("open_instance")) opened = true;
    if (line.startsWith("reload_trigger ")) triggers.push(line.slice("reload_trigger ".length));
    const m = line.match(/^(set|append|add) (\S+)((?: <[^>]*>)*)$/);
    if (!m?.[1] || !m[2]) continue;
    const values = [...(m[3] ?? "").matchAll(/<([^>]*)>/g)].map((v) => v[1] ?? "");
    const verb = m[1];
    const key = m[2];
    calls.push({ verb, key, values });
    if (key === "command") {
      if (verb === "set") command.length = 0;
      command.push(...values);
    } else if (key === "env") {
      if (verb === "set") env.clear();
      for (const v of values) env.set(v.slice(0, v.indexOf("=")), v.slice(v.indexOf("=") + 1));
    }
  }
  return { command, env, calls, opened, triggers, stderr };
}

/**
 * start_service() and service_triggers() of `initScript` under `shell` with `uci` as the
 * configuration; `overrides` reassigns the script's variables (UJAIL, CAPABILITIES) first.
 */
export async function runProcdInit(
  shell: readonly string[],
  initScript: string,
  uci: Map<string, UciSection>,
  dir: string,
  overrides: Record<string, string> = {},
): Promise<ProcdInstance> {
  const env: Record<string, string> = {};
  for (const [name, section] of uci) {
    for (const [k, v] of section.options) env[`UCI_${name}_${k}`] = v;
    for (const [k, v] of section.lists) env[`UCI_LIST_${name}_${k}`] = v.join("\n");
  }
  const assignments = Object.entries(overrides)
    .map(([k, v]) => `${k}='${v}'`)
    .join("\n");
  const harness = join(dir, "harness.sh");
  writeFileSync(
    harness,
    `${STUBS}\n. '${initScript}'\n${assignments}\nstart_service\nservice_triggers\n`,
  );
  const r = await run([...shell, harness], { env });
  return parseCalls(r.stdout, r.stderr);
}
