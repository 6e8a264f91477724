import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { type TestContext, test } from 'node:test';

export const KCAT = spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0;
let warned = false;

/**
 * A test that needs Debian's kcat: skipped loudly when it is missing, and failed instead
 * under CI=true, where .ci/run installs it.
 */
export function kcatTest(
  name: string,
  options: { skip?: string; timeout?: number },
  fn: (t: TestContext) => Promise<void>,
): void {
  if (options.skip || KCAT) {
    test(name, options, fn);
  } else if (process.env.CI === 'true') {
    test(name, () => assert.fail('kcat is not installed, and CI=true does not allow skipping it'));
  } else {
    if (!warned) {
      warned = true;
      console.warn(
        '\n*** kcat is not installed: SKIPPING the client’s kcat interop tests (apt-get install kcat) ***\n',
      );
    }
    test(name, { skip: 'kcat is not installed' }, fn);
  }
}

export function runKcat(
  args: string[],
  input = '',
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kcat ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** One record as `kcat -J` prints it. */
export interface KcatRecord {
  partition: number;
  offset: number;
  tstype: string;
  ts: number;
  headers?: string[];
  key: string | null;
  payload: string | null;
}

export async function kcatConsumeJson(bootstrap: string, topic: string): Promise<KcatRecord[]> {
  const result = await runKcat(['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-J', '-q']);
  assert.equal(result.code, 0, `kcat -C failed: ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as KcatRecord)
    .sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}
