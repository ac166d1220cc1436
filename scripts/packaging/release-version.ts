/**
 * The version of a build, from git: what `bgproxy --version` prints (`git describe --tags
 * --always --dirty`, as the issue asks) and how each package format spells it. Every format
 * has its own rules: Debian/opkg/RPM sort `~` before anything (a pre-release), Alpine allows
 * only digits after a suffix such as `_pre` or `_p`.
 *
 *   no tag yet, 12 commits        0.1.0~git12.c49e6e9  (deb, ipk, rpm)   0.1.0_pre12-r0 (apk)
 *   on tag v1.2.0                 1.2.0                                 1.2.0-r0
 *   3 commits after v1.2.0        1.2.0+git3.abc1234                    1.2.0_p3-r0
 *   v1.3.0-rc.1                   1.3.0~rc1                             1.3.0_rc1-r0
 *
 * A dirty tree adds ".dirty" to the Debian/RPM forms (Alpine has no room for it).
 */

/** What git says about the checkout (gathered by `readGitFacts`). */
export interface GitFacts {
  /** `git describe --tags --always --dirty` */
  readonly describe: string;
  /** Nearest tag (`git describe --tags --abbrev=0`), if any. */
  readonly tag?: string;
  /** Commits since `tag`, or since the root when there is no tag. */
  readonly distance: number;
  /** Abbreviated commit hash. */
  readonly shortHash: string;
  readonly fullHash: string;
  readonly dirty: boolean;
  /** Committer time of HEAD, seconds: SOURCE_DATE_EPOCH for reproducible archives. */
  readonly commitTime: number;
}

export interface ReleaseVersions {
  /** Stamped into the binary and printed by --version. */
  readonly binary: string;
  /** Debian .deb and OpenWrt .ipk Version. */
  readonly deb: string;
  /** RPM Version (Release is always 1): `~` and `+` sort as in Debian since rpm 4.10. */
  readonly rpm: string;
  /** Alpine pkgver, with its -rN. */
  readonly apk: string;
  readonly commit: string;
  readonly sourceDateEpoch: number;
}

interface BaseVersion {
  /** 1.2.3 */
  release: string;
  /** rc/beta/alpha and its number, for a pre-release tag. */
  pre?: { kind: "alpha" | "beta" | "rc"; number: number };
}

const TAG = /^v?(\d+\.\d+\.\d+)(?:-(alpha|beta|rc)\.?(\d+))?$/;

export function parseTag(tag: string): BaseVersion {
  const m = tag.match(TAG);
  if (!m?.[1]) {
    throw new Error(
      `tag ${JSON.stringify(tag)} is not a release version (expected v1.2.3 or v1.2.3-rc.1)`,
    );
  }
  const kind = m[2] as "alpha" | "beta" | "rc" | undefined;
  return kind ? { release: m[1], pre: { kind, number: Number(m[3]) } } : { release: m[1] };
}

/**
 * Package versions from git facts. `fallbackRelease` (package.json's version) is the base
 * while the repository has no tag: builds then sort before that release.
 */
export function releaseVersions(git: GitFacts, fallbackRelease: string): ReleaseVersions {
  const base = git.tag ? parseTag(git.tag) : parseTag(fallbackRelease);
  const debPre = base.pre ? `~${base.pre.kind}${base.pre.number}` : "";
  const apkPre = base.pre ? `_${base.pre.kind}${base.pre.number}` : "";
  const dirty = git.dirty ? ".dirty" : "";
  let deb: string;
  let apk: string;
  if (!git.tag) {
    deb = `${base.release}${debPre}~git${git.distance}.${git.shortHash}${dirty}`;
    apk = `${base.release}_pre${git.distance}`;
  } else if (git.distance > 0) {
    deb = `${base.release}${debPre}+git${git.distance}.${git.shortHash}${dirty}`;
    apk = `${base.release}${apkPre}_p${git.distance}`;
  } else {
    deb = `${base.release}${debPre}${git.dirty ? "+dirty" : ""}`;
    apk = `${base.release}${apkPre}`;
  }
  return {
    binary: git.describe,
    deb,
    rpm: deb.replaceAll("-", "_"),
    apk: `${apk}-r0`,
    commit: git.fullHash,
    sourceDateEpoch: git.commitTime,
  };
}

function git(args: string[], cwd: string): string | undefined {
  const r = Bun.spawnSync(["git", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString().trim() : undefined;
}

/** Read the facts from the checkout at `cwd`; throws when it is not a git checkout. */
export function readGitFacts(cwd: string): GitFacts {
  const describe = git(["describe", "--tags", "--always", "--dirty"], cwd);
  const fullHash = git(["rev-parse", "HEAD"], cwd);
  if (describe === undefined || fullHash === undefined) {
    throw new Error(`${cwd} is not a git checkout with a commit: pass --version to build anyway`);
  }
  const tag = git(["describe", "--tags", "--abbrev=0"], cwd);
  const range = tag === undefined ? "HEAD" : `${tag}..HEAD`;
  return {
    describe,
    ...(tag === undefined ? {} : { tag }),
    distance: Number(git(["rev-list", "--count", range], cwd) ?? "0"),
    shortHash: git(["rev-parse", "--short=7", "HEAD"], cwd) ?? fullHash.slice(0, 7),
    fullHash,
    dirty: describe.endsWith("-dirty"),
    commitTime: Number(git(["log", "-1", "--format=%ct"], cwd) ?? "0"),
  };
}
