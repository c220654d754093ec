#include "ocsp_staple_exporter/config/file_sd.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "ocsp_staple_exporter/common/text.h"
#include "ocsp_staple_exporter/config/config.h"

namespace ose {
namespace {

// Both formats become one JSON tree (YAML scalars as strings), so one
// validation names the same paths for both.
nlohmann::json FromYaml(const YAML::Node& n, int depth) {
  if (depth > 16) throw YAML::Exception(n.Mark(), "nested too deeply");
  switch (n.Type()) {
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : n) out.push_back(FromYaml(item, depth + 1));
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) throw YAML::Exception(kv.first.Mark(), "keys must be scalars");
        out[kv.first.Scalar()] = FromYaml(kv.second, depth + 1);
      }
      return out;
    }
    case YAML::NodeType::Scalar:
      return n.Scalar();
    default:  // null, undefined
      return nullptr;
  }
}

bool IsValidUtf8(std::string_view s) { return ValidUtf8(s) == s; }

}  // namespace

Result<FileSdFormat> FileSdFormatOf(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".json")) return FileSdFormat::kJson;
  if (ends(".yml") || ends(".yaml")) return FileSdFormat::kYaml;
  return Error{"bad_format", std::string(path) + ": file_sd files end in .json, .yml or .yaml"};
}

bool ValidExtraLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool ReservedLabelName(std::string_view name) {
  for (std::string_view r : kReservedLabelNames) {
    if (name == r) return true;
  }
  return false;
}

Result<std::vector<TargetGroup>> ParseFileSd(std::string_view text, FileSdFormat format,
                                             const std::string& file) {
  auto fail = [&](const std::string& where, const std::string& what) -> Error {
    return Error{"bad_file_sd", ValidUtf8(file + ": " + where + (where.empty() ? "" : ": ") + what)};
  };
  nlohmann::json doc;
  if (format == FileSdFormat::kJson) {
    doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return fail("", "not valid JSON");
  } else {
    try {
      YAML::Node root = YAML::Load(std::string(text));
      doc = FromYaml(root, 0);
    } catch (const YAML::Exception& e) {
      return fail("line " + std::to_string(e.mark.line + 1) + ", column " +
                      std::to_string(e.mark.column + 1),
                  e.msg);
    }
  }
  // An empty file is an empty list (a file emptied on purpose).
  if (doc.is_null()) return std::vector<TargetGroup>{};
  if (!doc.is_array()) return fail("", "must be a list of target groups");
  std::vector<TargetGroup> out;
  for (size_t i = 0; i < doc.size(); ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    const nlohmann::json& g = doc[i];
    if (!g.is_object()) return fail(at, "must be a map with targets and labels");
    for (const auto& [key, value] : g.items()) {
      if (key != "targets" && key != "labels") return fail(at + "." + key, "unknown key");
    }
    TargetGroup group;
    auto targets = g.find("targets");
    if (targets == g.end() || !targets->is_array()) {
      return fail(at + ".targets", "must be a list of HOST:PORT strings");
    }
    for (size_t j = 0; j < targets->size(); ++j) {
      const std::string tat = at + ".targets[" + std::to_string(j) + "]";
      const nlohmann::json& t = (*targets)[j];
      if (!t.is_string()) return fail(tat, "must be a string");
      const std::string& s = t.get_ref<const std::string&>();
      if (!IsValidUtf8(s)) return fail(tat, "is not valid UTF-8");
      auto hp = ParseHostPort(s);
      if (!hp) return fail(tat, hp.error().detail);
      group.targets.push_back({s, std::move(hp).value()});
    }
    if (auto labels = g.find("labels"); labels != g.end() && !labels->is_null()) {
      if (!labels->is_object()) return fail(at + ".labels", "must be a map of names to strings");
      for (const auto& [name, value] : labels->items()) {
        const std::string lat = at + ".labels." + name;
        if (!ValidExtraLabelName(name)) {
          return fail(lat, "invalid label name (want [a-zA-Z_][a-zA-Z0-9_]*, not __-prefixed)");
        }
        if (ReservedLabelName(name)) {
          return fail(lat, "reserved: the exporter or Prometheus sets this label itself");
        }
        if (!value.is_string()) return fail(lat, "must be a string");
        const std::string& v = value.get_ref<const std::string&>();
        if (!IsValidUtf8(v)) return fail(lat, "is not valid UTF-8");
        group.labels.emplace_back(name, v);
      }
    }
    out.push_back(std::move(group));
  }
  return out;
}

}  // namespace ose
