#include "processing/extraction/office/ooxml_part.hpp"

#include <cstring>

#include "processing/extraction/extraction_errors.hpp"

namespace processing {

std::unique_ptr<XmlPart> read_xml_part(const ZipArchive& archive, ArchiveGuard& guard,
                                       std::string_view part_name, bool required,
                                       std::string_view relative_path) {
  const std::optional<ZipEntry> entry = archive.find(part_name);
  if (!entry) {
    if (!required) return nullptr;
    throw extraction_error(ErrorKind::corrupt, relative_path,
                           "the package has no '" + std::string(part_name) + "' part");
  }
  auto part = std::make_unique<XmlPart>();
  part->bytes = guard.read(archive, *entry);
  const pugi::xml_parse_result parsed = part->document.load_buffer_inplace(
      part->bytes.data(), part->bytes.size(), pugi::parse_default | pugi::parse_ws_pcdata_single);
  if (!parsed) {
    throw extraction_error(ErrorKind::corrupt, relative_path,
                           "the part '" + std::string(part_name) + "' is not well-formed XML (" +
                               parsed.description() + " at offset " +
                               std::to_string(parsed.offset) + ")");
  }
  return part;
}

std::string_view local_name(const char* qualified_name) {
  const std::string_view name(qualified_name);
  const std::size_t colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_attribute attribute_by_local_name(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_attribute attribute : node.attributes()) {
    if (local_name(attribute.name()) == name) return attribute;
  }
  return {};
}

}  // namespace processing
