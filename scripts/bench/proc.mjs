// Runs one cold Node process for the benchmark and measures it: wall time (spawn to exit, as the
// parent sees it), peak RSS and CPU time. With /usr/bin/time (GNU time) the peak RSS and the CPU
// times come from the kernel's rusage of the child (worker threads live in the same process, so
// their memory is included); without it, /proc/<pid>/status VmHWM is sampled every 50 ms and
// CPU time is not reported.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';
export const hasGnuTime = existsSync(GNU_TIME);

function peakFromProc(pid) {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `node <args>`; stdout goes to stdoutFile (or is collected when omitted), stderr is
 * collected. Resolves { code, signal, wall (s), peakRssMB, userS, sysS, stdout, stderr }.
 */
export function timedNode(args, { stdoutFile, tmpDir, cwd } = {}) {
  return new Promise((resolve) => {
    const timeFile = hasGnuTime ? join(tmpDir, `time-${process.hrtime.bigint()}.txt`) : undefined;
    const fd = stdoutFile ? openSync(stdoutFile, 'w') : 'pipe';
    const [cmd, cmdArgs] = hasGnuTime
      ? [GNU_TIME, ['-f', '%M %U %S', '-o', timeFile, process.execPath, ...args]]
      : [process.execPath, args];
    const t0 = performance.now();
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', fd, 'pipe'], cwd });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (s) => (stdout += s));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s) => (stderr += s));
    let sampled;
    const sampler = hasGnuTime
      ? undefined
      : setInterval(() => {
          const v = peakFromProc(child.pid);
          if (v !== undefined) sampled = Math.max(sampled ?? 0, v);
        }, 50);
    child.on('close', (code, signal) => {
      const wall = (performance.now() - t0) / 1000;
      if (sampler) clearInterval(sampler);
      if (typeof fd === 'number') closeSync(fd);
      let peakRssMB = sampled;
      let userS;
      let sysS;
      if (timeFile) {
        try {
          // GNU time prints "Command exited with non-zero status N" first when the child failed.
          const last = readFileSync(timeFile, 'utf8').trim().split('\n').pop();
          const [kb, u, s] = last.split(/\s+/).map(Number);
          peakRssMB = kb / 1024;
          userS = u;
          sysS = s;
        } catch {
          /* no figures */
        }
        rmSync(timeFile, { force: true });
      }
      resolve({ code, signal, wall, peakRssMB, userS, sysS, stdout, stderr });
    });
  });
}
