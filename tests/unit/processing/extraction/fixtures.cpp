#include "fixtures.hpp"

#include <doctest/doctest.h>
#include <zip.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace processing::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "extraction-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

fs::path TempDir::write(std::string_view relative, std::string_view content) const {
  const fs::path target = path_ / relative;
  fs::create_directories(target.parent_path());
  std::ofstream out(target, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + target.string());
  return target;
}

std::string zip_bytes(const std::vector<ZipMember>& members) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  if (archive == nullptr) throw std::runtime_error("zip_open_from_source failed");
  zip_source_keep(buffer);
  for (const auto& [name, content] : members) {
    // libzip copies nothing until zip_close: keep the data alive (members).
    zip_source_t* data = zip_source_buffer(archive, content.data(), content.size(), 0);
    if (zip_file_add(archive, name.c_str(), data, ZIP_FL_ENC_UTF_8) < 0) {
      zip_source_free(data);
      throw std::runtime_error("zip_file_add failed");
    }
  }
  if (zip_close(archive) != 0) throw std::runtime_error("zip_close failed");
  zip_stat_t stat;
  zip_source_stat(buffer, &stat);
  std::string bytes(stat.size, '\0');
  zip_source_open(buffer);
  zip_source_read(buffer, bytes.data(), bytes.size());
  zip_source_close(buffer);
  zip_source_free(buffer);
  return bytes;
}

std::string docx_document_xml(std::string_view body_xml) {
  return std::string(
             "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
             "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/"
             "main\"><w:body>") +
         std::string(body_xml) + "</w:body></w:document>";
}

std::string docx_bytes(std::string_view body_xml, const std::vector<ZipMember>& extras) {
  std::vector<ZipMember> members = {
      {"[Content_Types].xml",
       "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types "
       "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Override "
       "PartName=\"/word/document.xml\" "
       "ContentType=\"application/"
       "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>"},
      {"_rels/.rels",
       "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships "
       "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship "
       "Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/"
       "relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>"},
      {"word/document.xml", docx_document_xml(body_xml)},
  };
  members.insert(members.end(), extras.begin(), extras.end());
  return zip_bytes(members);
}

std::string xlsx_bytes(const std::vector<XlsxSheet>& sheets,
                       const std::vector<std::string>& shared_strings) {
  std::string workbook =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook "
      "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
      "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>";
  std::string rels =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships "
      "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">";
  std::vector<ZipMember> members = {{"[Content_Types].xml", "<Types/>"}};
  for (std::size_t i = 0; i < sheets.size(); ++i) {
    const std::string id = std::to_string(i + 1);
    // Part names deliberately differ from sheetN order to exercise the rels.
    const std::string part = "worksheets/data" + id + ".xml";
    workbook +=
        "<sheet name=\"" + sheets[i].name + "\" sheetId=\"" + id + "\" r:id=\"rId" + id + "\"/>";
    rels += "<Relationship Id=\"rId" + id +
            "\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
            "worksheet\" Target=\"" +
            part + "\"/>";
    std::string sheet =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet "
        "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">";
    if (!sheets[i].dimension.empty()) sheet += "<dimension ref=\"" + sheets[i].dimension + "\"/>";
    sheet += "<sheetData>" + sheets[i].sheet_data_xml + "</sheetData></worksheet>";
    members.push_back({"xl/" + part, sheet});
  }
  workbook += "</sheets></workbook>";
  rels += "</Relationships>";
  members.push_back({"xl/workbook.xml", workbook});
  members.push_back({"xl/_rels/workbook.xml.rels", rels});
  if (!shared_strings.empty()) {
    std::string shared =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><sst "
        "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">";
    for (const std::string& text : shared_strings) shared += "<si><t>" + text + "</t></si>";
    shared += "</sst>";
    members.push_back({"xl/sharedStrings.xml", shared});
  }
  return zip_bytes(members);
}

std::string pdf_bytes(const std::vector<std::string>& page_texts, std::string_view info,
                      std::string_view extra_trailer, std::string_view extra_object) {
  // Objects: 1 catalog, 2 pages, 3 font, 4 info, then a page and its content
  // stream per text, then the optional extra object.
  std::vector<std::string> objects;
  objects.push_back("<< /Type /Catalog /Pages 2 0 R >>");
  std::string kids;
  for (std::size_t i = 0; i < page_texts.size(); ++i) {
    kids += std::to_string(5 + 2 * i) + " 0 R ";
  }
  objects.push_back("<< /Type /Pages /Kids [" + kids + "] /Count " +
                    std::to_string(page_texts.size()) + " >>");
  objects.push_back("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  objects.push_back("<< " + std::string(info) + " >>");
  for (std::size_t i = 0; i < page_texts.size(); ++i) {
    const std::string content = "BT /F1 24 Tf 72 700 Td (" + page_texts[i] + ") Tj ET";
    objects.push_back(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font "
        "<< /F1 3 0 R >> >> /Contents " +
        std::to_string(6 + 2 * i) + " 0 R >>");
    objects.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content +
                      "\nendstream");
  }
  if (!extra_object.empty()) objects.emplace_back(extra_object);

  std::string pdf = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
  std::vector<std::size_t> offsets;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const std::size_t xref_offset = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (const std::size_t offset : offsets) {
    char entry[32];
    std::snprintf(entry, sizeof entry, "%010zu 00000 n \n", offset);
    pdf += entry;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R";
  if (!info.empty()) pdf += " /Info 4 0 R";
  pdf += " " + std::string(extra_trailer) + " >>\nstartxref\n" + std::to_string(xref_offset) +
         "\n%%EOF\n";
  return pdf;
}

namespace {

void put_u32(std::string& bytes, std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<char>((value >> (8 * i)) & 0xFF);
}

}  // namespace

std::string with_declared_sizes(std::string zip, std::uint32_t declared) {
  static constexpr std::string_view kLocal("PK\x03\x04", 4);
  static constexpr std::string_view kCentral("PK\x01\x02", 4);
  for (std::size_t at = zip.find(kLocal); at != std::string::npos; at = zip.find(kLocal, at + 4)) {
    put_u32(zip, at + 22, declared);
  }
  for (std::size_t at = zip.find(kCentral); at != std::string::npos;
       at = zip.find(kCentral, at + 4)) {
    put_u32(zip, at + 24, declared);
  }
  return zip;
}

rapidjson::Document parse_json(const std::string& json) {
  rapidjson::Document document;
  document.Parse(json.c_str(), json.size());
  if (document.HasParseError() || !document.IsObject()) {
    throw std::runtime_error("the extraction JSON does not parse: " + json.substr(0, 200));
  }
  return document;
}

std::string error_type_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const ExtractionError& error) {
    return error.error_type();
  }
  return "no error";
}

ExtractionError error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const ExtractionError& error) {
    return error;
  }
  throw std::runtime_error("expected an ExtractionError, but none was thrown");
}

ExtractionResult extract(const TempDir& root, std::string_view name, std::string_view content,
                         const ExtractionLimits& limits) {
  root.write(name, content);
  return processing::extract_file(root.path(), name, limits);
}

std::string extract_error(const TempDir& root, std::string_view name, std::string_view content,
                          const ExtractionLimits& limits) {
  root.write(name, content);
  return error_type_of([&] { processing::extract_file(root.path(), name, limits); });
}

std::string text(const rapidjson::Value& value) {
  REQUIRE(value.IsString());
  return value.GetString();
}

}  // namespace processing::testing
