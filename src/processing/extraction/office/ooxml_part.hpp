// Reading the XML parts of an Office Open XML package (DOCX, XLSX): inflate
// a part through the ArchiveGuard, parse it with pugixml, and walk the tree
// iteratively (hostile nesting depth cannot exhaust the stack). Element names
// are matched by local name, whatever namespace prefix the producer chose.
// Owned by the document extractors.
#pragma once

#include <pugixml.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "processing/extraction/archive/archive_guard.hpp"
#include "processing/extraction/archive/zip_archive.hpp"

namespace processing {

struct XmlPart {
  std::string bytes;  // parsed in place: must live as long as the document
  pugi::xml_document document;
};

// Null when the part does not exist and `required` is false; throws
// "corrupt" when a required part is missing or a part is not well-formed.
std::unique_ptr<XmlPart> read_xml_part(const ZipArchive& archive, ArchiveGuard& guard,
                                       std::string_view part_name, bool required,
                                       std::string_view relative_path);

// "w:p" -> "p".
std::string_view local_name(const char* qualified_name);
inline std::string_view local_name(const pugi::xml_node& node) {
  return local_name(node.name());
}

// The attribute whose local name is `name` ("r:id" matches "id").
pugi::xml_attribute attribute_by_local_name(const pugi::xml_node& node, std::string_view name);

// Depth-first walk below `root` (root excluded): on_enter(node) before a
// node's children, on_leave(node) after them.
template <typename OnEnter, typename OnLeave>
void walk_xml(const pugi::xml_node& root, OnEnter&& on_enter, OnLeave&& on_leave) {
  pugi::xml_node node = root.first_child();
  while (node && node != root) {
    on_enter(node);
    if (node.first_child()) {
      node = node.first_child();
      continue;
    }
    while (node != root && !node.next_sibling()) {
      on_leave(node);
      node = node.parent();
      if (node == root) return;
    }
    on_leave(node);
    node = node.next_sibling();
  }
}

}  // namespace processing
