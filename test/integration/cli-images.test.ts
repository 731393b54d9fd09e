/**
 * The CLI on the real Debian memory images (../shared/fixtures/linux), with only the
 * image, its BTF and System.map: `seven ps --json` gives exactly the TASK lines of
 * ground-truth.txt plus swapper/0 (comm compared as a prefix), `seven lsmod` the 11
 * modules, and the syscall-table and IDT checks find nothing.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FIXTURES, runCli } from "./cli-harness.js";

const BTF = join(FIXTURES, "debian-6.1.0-56-amd64/vmlinux.btf");
const MAP = join(FIXTURES, "debian-6.1.0-56-amd64/System.map");
const MODULES = ["virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "virtio_blk", "loop", "dummy", "crc7", "crc_itu_t", "serio_raw"];

for (const name of ["nokaslr-256M", "kaslr-256M"]) {
  const image = join(FIXTURES, name, "vmcore.elf.gz");
  const args = ["--image", image, "--btf", BTF, "--system-map", MAP];
  describe(`seven CLI on ${name}`, { skip: existsSync(image) ? false : `fixture ${image} is absent` }, () => {
    it("ps --json gives the ground truth's tasks plus swapper/0", async () => {
      const r = await runCli(["ps", "--json", ...args]);
      assert.equal(r.code, 0, r.stderr);
      const rows = (JSON.parse(r.stdout) as { rows: { pid: number; ppid: number; comm: string }[] }).rows;
      const truth = readFileSync(join(FIXTURES, name, "ground-truth.txt"), "utf8")
        .split("\n")
        .filter((l) => l.startsWith("TASK "))
        .map((l) => {
          const m = /pid=(\d+) ppid=(\d+) state=\S+ comm=(.*)$/.exec(l)!;
          return { pid: Number(m[1]), ppid: Number(m[2]), comm: m[3]! };
        });
      const got = rows.filter((x) => x.pid !== 0);
      assert.ok(rows.some((x) => x.pid === 0 && x.comm === "swapper/0"));
      assert.deepEqual(
        got.map((x) => x.pid).sort((a, b) => a - b),
        truth.map((x) => x.pid).sort((a, b) => a - b),
      );
      for (const t of truth) {
        const g = got.find((x) => x.pid === t.pid)!;
        assert.equal(g.ppid, t.ppid, `ppid of ${t.pid}`);
        assert.ok(t.comm.startsWith(g.comm) && g.comm.length > 0, `comm of ${t.pid}: ${g.comm} vs ${t.comm}`);
      }
    });

    it("lsmod gives the 11 modules with their base addresses; the syscall-table and IDT checks find nothing", async () => {
      const r = await runCli(["lsmod", "--json", ...args]);
      assert.equal(r.code, 0, r.stderr);
      const mods = (JSON.parse(r.stdout) as { rows: { name: string; base: string }[] }).rows;
      assert.deepEqual(mods.map((m) => m.name).sort(), [...MODULES].sort());
      for (const m of mods) assert.match(m.base, /^0xffffffffc0[0-9a-f]{6}$/);
      const c = await runCli(["check", "syscall-table", "idt", ...args]);
      assert.equal(c.code, 0, c.stdout + c.stderr);
    });
  });
}
