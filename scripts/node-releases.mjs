// The Node releases the suite runs on besides the machine's own, and where each lives: npm
// installs each into its own folder under .cache, so it never replaces the project's `node`.
import { join } from "node:path";

/** Name (as `npm test -- --only` takes it) and exact version of each extra Node release. */
export const OTHER_NODES = [
  { name: "node22", version: "22.23.3" },
  { name: "node24", version: "24.21.0" },
];

/** The folder a release is installed into (`npm install --prefix <it> node@<version>`). */
export const nodeDir = (root, version) => join(root, ".cache", `node-${version}`);

/** The `node` binary of an installed release. */
export const nodeBin = (root, version) =>
  join(nodeDir(root, version), "node_modules", "node", "bin", "node");

/** The binary of the release named `name` (e.g. "node24"). */
export function nodeBinNamed(root, name) {
  const release = OTHER_NODES.find((r) => r.name === name);
  if (release === undefined) throw new Error(`no Node release named ${name}`);
  return nodeBin(root, release.version);
}

/**
 * The npm command that installs `version` into its own folder: as a dependency of the project
 * it would replace `node` in npm scripts.
 */
export const installCommand = (root, version) => [
  "npm",
  [
    "install",
    "--prefix",
    nodeDir(root, version),
    "--no-save",
    "--no-audit",
    "--no-fund",
    `node@${version}`,
  ],
];
