import { cpus, totalmem } from 'node:os';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface ScenarioResult {
  /** Markdown table (or text) with the measurements. */
  table: string;
  /** One line: the headline figure and whether the target was met. */
  summary: string;
  /** Method notes shown under the table. */
  notes?: string;
}

export interface Scenario {
  name: string;
  title: string;
  run(): Promise<ScenarioResult>;
}

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[idx];
}

export function fmt(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return '-';
  return n.toFixed(digits);
}

export function mdTable(header: string[], rows: (string | number)[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function machine(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Writes a scenario's section into docs/benchmarks.md between its markers, keeping the others,
 * so one scenario can be re-run alone while `npm run bench` refreshes them all.
 */
export function writeSection(path: string, name: string, title: string, r: ScenarioResult, when: string): void {
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const body = [begin, `## ${title} (\`${name}\`)`, '', `**Summary:** ${r.summary}`, '', `_Run ${when} on ${machine()}._`, '', r.table, '', r.notes ?? '', end].join('\n');
  let doc = existsSync(path) ? readFileSync(path, 'utf8') : '';
  if (!doc.startsWith('# Benchmarks')) {
    doc = `# Benchmarks\n\nProduced by \`npm run bench\` (all scenarios) or \`npm run bench -- <scenario>\`; each section says when and where it ran. Ratios are measured side by side in one run; no figure here is asserted in \`npm test\`.\n\n${doc}`;
  }
  const re = new RegExp(`${begin}[\\s\\S]*?${end}`);
  doc = re.test(doc) ? doc.replace(re, body) : `${doc.trimEnd()}\n\n${body}\n`;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, doc);
}

/** Counts a DynamoDB client's commands by name (`UpdateItemCommand`, `QueryCommand`, ...) as they go out. */
export function countCommands(client: DynamoDBDocumentClient): Record<string, number> {
  const counts: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String((context as { commandName?: string }).commandName);
      counts[name] = (counts[name] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'benchCommandCounter' },
  );
  return counts;
}
