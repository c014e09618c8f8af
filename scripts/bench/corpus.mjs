// The pipeline scenario's corpus: the demo's mixed upload (scripts/lib/documents.mjs:
// PDF, DOCX, XLSX, CSV, text, Markdown and truncated PDFs, in folders) scaled up to N
// documents with sizes drawn from a seeded generator, so every run with the same N and
// seed writes byte-identical files. Plus the fixed files the extraction measurements
// use: a one-line text file (the sandbox's overhead), a one-page PDF with one word (each
// PDF tool's fixed cost) and a 200-page PDF (the cost per page once start-up is amortised).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildDocx, buildPdf, buildXlsx } from '../lib/documents.mjs';
import { mulberry32 } from './lib.mjs';

// Share of each kind (they add up to 1); `corrupt` is a PDF cut after 40 bytes, as in
// the demo, which the worker records as failed (error_type corrupt).
export const MIX = [
  ['pdf', 0.3],
  ['docx', 0.15],
  ['xlsx', 0.1],
  ['csv', 0.15],
  ['txt', 0.15],
  ['md', 0.12],
  ['corrupt', 0.03],
];

const WORDS = (
  'the of and to in is for on with as by at from this that report quarter revenue cost ' +
  'margin growth region north south east west customer order invoice payment total net ' +
  'gross forecast budget plan review audit summary figure table appendix section page ' +
  'project team meeting minutes decision action owner status risk issue change request ' +
  'contract supplier delivery product service market share price volume unit sales'
).split(' ');
const CITIES = ['Berlin', 'Paris', 'Lyon', 'Köln', 'Zürich', 'Madrid', 'Porto', 'Oslo'];

// An integer in [lo, hi], log-uniform (small sizes common, large ones rare).
const logInt = (rand, lo, hi) => Math.floor(Math.exp(Math.log(lo) + rand() * (Math.log(hi + 1) - Math.log(lo))));
const pick = (rand, list) => list[Math.floor(rand() * list.length)];
const sentence = (rand, words) => {
  const w = Array.from({ length: words }, () => pick(rand, WORDS));
  w[0] = w[0][0].toUpperCase() + w[0].slice(1);
  return `${w.join(' ')}.`;
};

function pickKind(rand) {
  let r = rand();
  for (const [kind, share] of MIX) {
    if (r < share) return kind;
    r -= share;
  }
  return MIX[0][0];
}

// One document of `kind`: {data, pages?} with sizes drawn from `rand`.
function makeDocument(kind, rand, i) {
  switch (kind) {
    case 'pdf': {
      // 1 to 30 pages of 10 to 45 lines.
      const pages = Array.from({ length: logInt(rand, 1, 30) }, () =>
        Array.from({ length: 10 + Math.floor(rand() * 36) }, () => sentence(rand, 6 + Math.floor(rand() * 8))));
      return { data: buildPdf(pages, { title: `Document ${i}`, author: 'bench corpus' }), pages: pages.length };
    }
    case 'corrupt':
      return { data: buildPdf([`Broken ${i}`]).subarray(0, 40) };
    case 'docx':
      return { data: buildDocx(Array.from({ length: logInt(rand, 3, 300) }, () => sentence(rand, 5 + Math.floor(rand() * 20)))) };
    case 'xlsx': {
      const sheets = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, s) => ({
        name: `Sheet${s + 1}`,
        rows: [['Region', 'City', 'Amount', 'Units'],
          ...Array.from({ length: logInt(rand, 3, 400) }, () =>
            [pick(rand, WORDS), pick(rand, CITIES), Math.round(rand() * 100000) / 100, Math.floor(rand() * 1000)])],
      }));
      return { data: buildXlsx(sheets) };
    }
    case 'csv': {
      const rows = ['id,name,city,amount'];
      for (let r = 1, n = logInt(rand, 5, 3000); r <= n; r++) {
        rows.push(`${r},${pick(rand, WORDS)} ${pick(rand, WORDS)},${pick(rand, CITIES)},${(rand() * 1000).toFixed(2)}`);
      }
      return { data: Buffer.from(`${rows.join('\n')}\n`) };
    }
    case 'txt':
      return { data: Buffer.from(`${Array.from({ length: logInt(rand, 1, 400) }, () => sentence(rand, 8 + Math.floor(rand() * 12))).join('\n')}\nGrüße aus Köln ✓\n`, 'utf8') };
    case 'md': {
      const parts = [`# Notes ${i}`];
      for (let s = 0, n = logInt(rand, 1, 40); s < n; s++) {
        parts.push(`## ${sentence(rand, 3)}`, '', sentence(rand, 15), '', `- ${sentence(rand, 4)}`, `- ${sentence(rand, 4)}`, '');
      }
      return { data: Buffer.from(`${parts.join('\n')}\n`) };
    }
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

const EXTENSION = { pdf: 'pdf', corrupt: 'pdf', docx: 'docx', xlsx: 'xlsx', csv: 'csv', txt: 'txt', md: 'md' };

// Writes N documents under `dir` (folders by kind and by hundreds, like an upload with
// nested folders) and returns [{path, kind, bytes, pages?}] in order.
export function writeCorpus(dir, { documents, seed = 1 }) {
  const rand = mulberry32(seed);
  const entries = [];
  for (let i = 0; i < documents; i++) {
    const kind = pickKind(rand);
    const { data, pages } = makeDocument(kind, rand, i);
    const rel = `${kind === 'corrupt' ? 'broken' : kind}/${String(Math.floor(i / 100)).padStart(3, '0')}/doc-${String(i).padStart(5, '0')}.${EXTENSION[kind]}`;
    mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), data);
    entries.push({ path: rel, kind, bytes: data.length, ...(pages ? { pages } : {}) });
  }
  return entries;
}

// The fixed files of the extraction measurements, under `dir`: trivial.txt (one line),
// minimal.pdf (one page, one word) and large.pdf (200 pages of 40 lines, seeded).
// Returns their names (relative to `dir`) and the PDFs' sizes.
export function writeFixedFiles(dir, { seed = 1 } = {}) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'trivial.txt'), 'hello\n');
  const minimal = buildPdf(['hello']);
  writeFileSync(path.join(dir, 'minimal.pdf'), minimal);
  const rand = mulberry32(seed + 1);
  const largePages = 200;
  const large = buildPdf(
    Array.from({ length: largePages }, () => Array.from({ length: 40 }, () => sentence(rand, 10))),
    { title: 'Large', author: 'bench corpus' },
  );
  writeFileSync(path.join(dir, 'large.pdf'), large);
  return {
    trivial: 'trivial.txt',
    minimalPdf: 'minimal.pdf',
    minimalBytes: minimal.length,
    largePdf: 'large.pdf',
    largePages,
    largeBytes: large.length,
  };
}
