// Generates a mixed upload (used by the demo and the end-to-end test): a two-page PDF written
// by hand (with a correct xref table), a DOCX and an XLSX built from XML
// strings, CSV, UTF-8 text, Markdown and a truncated (corrupt) PDF, in nested
// folders. Each entry says what the worker should make of it.
import { buildZip } from './zip.mjs';

// A PDF, one entry per page: a string is one 18 pt line, an array of strings
// is that many 11 pt lines (the benchmark's larger documents); byte offsets of
// the objects computed.
export function buildPdf(pageTexts, { title = 'E2E fixture', author = 'bullmq-worker tests' } = {}) {
  const esc = (s) => s.replace(/([\\()])/g, '\\$1');
  const objects = [];
  const n = pageTexts.length;
  const fontObj = 3 + 2 * n;
  const infoObj = fontObj + 1;
  objects.push('<< /Type /Catalog /Pages 2 0 R >>');
  const kids = pageTexts.map((_, i) => `${3 + 2 * i} 0 R`).join(' ');
  objects.push(`<< /Type /Pages /Kids [${kids}] /Count ${n} >>`);
  pageTexts.forEach((text, i) => {
    const content = Array.isArray(text)
      ? `BT /F1 11 Tf 14 TL 72 740 Td ${text.map((line) => `(${esc(line)}) '`).join(' ')} ET\n`
      : `BT /F1 18 Tf 72 720 Td (${esc(text)}) Tj ET\n`;
    objects.push(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 ${fontObj} 0 R >> >> /Contents ${4 + 2 * i} 0 R >>`,
    );
    objects.push(`<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}endstream`);
  });
  objects.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
  objects.push(`<< /Title (${esc(title)}) /Author (${esc(author)}) /Producer (hand-written) >>`);

  let body = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets = [];
  objects.forEach((obj, i) => {
    offsets.push(Buffer.byteLength(body, 'latin1'));
    body += `${i + 1} 0 obj\n${obj}\nendobj\n`;
  });
  const xrefAt = Buffer.byteLength(body, 'latin1');
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) body += `${String(off).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info ${infoObj} 0 R >>\nstartxref\n${xrefAt}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}

const xmlHead = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';

export function buildDocx(paragraphs) {
  const W = 'http://schemas.openxmlformats.org/wordprocessingml/2006/main';
  const body = paragraphs
    .map((p) => `<w:p><w:r><w:t xml:space="preserve">${p}</w:t></w:r></w:p>`)
    .join('');
  return buildZip([
    {
      name: '[Content_Types].xml',
      data: `${xmlHead}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
</Types>`,
    },
    {
      name: '_rels/.rels',
      data: `${xmlHead}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
</Relationships>`,
    },
    { name: 'word/document.xml', data: `${xmlHead}<w:document xmlns:w="${W}"><w:body>${body}</w:body></w:document>` },
  ]);
}

// sheets: [{name, rows: [[cell, ...], ...]}]; strings become shared strings.
export function buildXlsx(sheets) {
  const shared = [];
  const sharedIndex = new Map();
  const col = (i) => String.fromCharCode(65 + i);
  const sheetXml = (rows) => {
    const width = Math.max(...rows.map((r) => r.length));
    const dim = `A1:${col(width - 1)}${rows.length}`;
    const rowXml = rows
      .map((cells, r) => {
        const cs = cells
          .map((v, c) => {
            const ref = `${col(c)}${r + 1}`;
            if (typeof v === 'number') return `<c r="${ref}"><v>${v}</v></c>`;
            if (!sharedIndex.has(v)) {
              sharedIndex.set(v, shared.length);
              shared.push(v);
            }
            return `<c r="${ref}" t="s"><v>${sharedIndex.get(v)}</v></c>`;
          })
          .join('');
        return `<row r="${r + 1}">${cs}</row>`;
      })
      .join('');
    return `${xmlHead}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="${dim}"/><sheetData>${rowXml}</sheetData></worksheet>`;
  };
  const sheetParts = sheets.map((s) => sheetXml(s.rows));
  const R = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
  return buildZip([
    {
      name: '[Content_Types].xml',
      data: `${xmlHead}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
${sheets.map((_, i) => `<Override PartName="/xl/worksheets/sheet${i + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`).join('\n')}
<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>
</Types>`,
    },
    {
      name: '_rels/.rels',
      data: `${xmlHead}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="${R}/officeDocument" Target="xl/workbook.xml"/>
</Relationships>`,
    },
    {
      name: 'xl/workbook.xml',
      data: `${xmlHead}<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="${R}"><sheets>${sheets
        .map((s, i) => `<sheet name="${s.name}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`)
        .join('')}</sheets></workbook>`,
    },
    {
      name: 'xl/_rels/workbook.xml.rels',
      data: `${xmlHead}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${sheets
        .map((_, i) => `<Relationship Id="rId${i + 1}" Type="${R}/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`)
        .join('')}<Relationship Id="rId${sheets.length + 1}" Type="${R}/sharedStrings" Target="sharedStrings.xml"/></Relationships>`,
    },
    ...sheetParts.map((xml, i) => ({ name: `xl/worksheets/sheet${i + 1}.xml`, data: xml })),
    {
      name: 'xl/sharedStrings.xml',
      data: `${xmlHead}<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="${shared.length}" uniqueCount="${shared.length}">${shared
        .map((s) => `<si><t>${s}</t></si>`)
        .join('')}</sst>`,
    },
  ]);
}

// The upload: [{path, data, expect}] where expect describes the outcome.
export function mixedUpload() {
  const pdf = buildPdf(['Quarterly report page one', 'Second page with totals']);
  const text = 'Grüße aus Köln. The quick brown fox jumps over the lazy dog.\nZweite Zeile ✓\n';
  return [
    {
      path: 'reports/2024/q1-report.pdf',
      data: pdf,
      expect: { status: 'completed', kind: 'pdf', pages: 2, contains: 'Quarterly report page one' },
    },
    {
      path: 'reports/summary.docx',
      data: buildDocx(['Executive summary', 'Revenue grew by twelve percent', 'Costs stayed flat']),
      expect: { status: 'completed', kind: 'docx', paragraphs: 3, contains: 'Revenue grew by twelve percent' },
    },
    {
      path: 'data/sales.xlsx',
      data: buildXlsx([
        { name: 'Sales', rows: [['Region', 'Amount'], ['North', 120], ['South', 80]] },
        { name: 'Notes', rows: [['Reviewed by finance']] },
      ]),
      expect: { status: 'completed', kind: 'xlsx', sheets: ['Sales', 'Notes'] },
    },
    {
      path: 'data/customers.csv',
      data: Buffer.from('id,name,city\n1,Alice,Berlin\n2,Bob,Paris\n3,Chloé,Lyon\n'),
      expect: { status: 'completed', kind: 'text', format: 'csv', words: 4 },
    },
    {
      path: 'notes/readme.txt',
      data: Buffer.from(text, 'utf8'),
      expect: { status: 'completed', kind: 'text', format: 'plain', words: 15, contains: 'Grüße aus Köln' },
    },
    {
      path: 'notes/deep/nested/plan.md',
      data: Buffer.from('# Plan\n\n## Steps\n\n- collect the files\n- extract them\n'),
      expect: { status: 'completed', kind: 'text', format: 'markdown', contains: 'collect the files' },
    },
    {
      path: 'broken/truncated.pdf',
      data: pdf.subarray(0, 40),
      expect: { status: 'failed', error_type: 'corrupt' },
    },
  ];
}

export function uploadZip(files) {
  return buildZip(files.map((f) => ({ name: f.path, data: f.data })));
}
