#include "ocsp_staple_exporter/http/landing_page.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <limits>
#include <sstream>

#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/common/text.h"

namespace ose {
namespace {

// Mobile first: below 760 px each row is a card of "label: value" lines,
// so no cell is ever wider than the screen; above, a table whose columns
// keep a readable minimum width and whose details take one line.
constexpr std::string_view kStyle =
    "body{font-family:system-ui,sans-serif;margin:1em;line-height:1.35;color:#222}"
    "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.2em 0 .4em}"
    ".links{margin:0 0 .6em}.links a,.links form{margin-right:1em;white-space:nowrap}"
    ".links form{display:inline}"
    ".summary{display:flex;flex-wrap:wrap;gap:.3em 1.1em;margin:.6em 0;padding:.6em .8em;"
    "background:#f3f3f3;border-radius:4px}"
    ".summary a,.summary span{white-space:nowrap;text-decoration:none}"
    ".summary span.zero{color:#888}.summary b{font-size:1.15em}"
    ".summary .sep{color:#888;font-weight:bold}"
    // Fixed layout: the columns share the width as <colgroup> says, so a
    // long text wraps or is cut in its own cell instead of squeezing the
    // others.
    "table{border-collapse:collapse;width:100%;table-layout:fixed}"
    "table{font-size:.92em}"
    ".w6{width:6%}.w7{width:7%}.w9{width:9%}.w10{width:10%}.w12{width:12%}.w13{width:13%}"
    ".w14{width:14%}.w15{width:15%}.w16{width:16%}.w21{width:21%}.w26{width:26%}"
    "th,td{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}"
    "td{overflow-wrap:anywhere}"
    ".d summary,.d .line{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}"
    ".d summary{cursor:pointer}.d details[open] summary{white-space:normal}"
    "td.d .full{white-space:pre-wrap;font-size:90%;color:#444}"
    ".r{font-family:monospace;font-size:90%}"
    "tr.group th{background:#eee;padding-top:.5em}"
    "tr.addr td.n{padding-left:1.5em;color:#666}"
    ".good{color:#186a3b}.revoked,.invalid,.failed,.must-staple{color:#b03a2e;font-weight:bold}"
    ".absent,.unknown{color:#9a7d0a}.pending{color:#666}"
    "@media (max-width:760px){table,thead,tbody,tr,th,td{display:block}thead{display:none}"
    "tr{border-bottom:2px solid #ccc;padding:.3em 0}"
    "td{border:0;padding:1px 4px;min-width:0!important;max-width:none!important}"
    "td[data-label]::before{content:attr(data-label) \": \";font-weight:bold;color:#555}"
    ".d summary,.d .line{white-space:normal}tr.addr td.n{padding-left:4px}td:empty{display:none}}";

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                  static_cast<int>(n));
  out.resize(len > 0 ? static_cast<size_t>(len) : 0);
  return out;
}

std::string StyleHash() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(kStyle.data(), kStyle.size(), md, &n, EVP_sha256(), nullptr) != 1) return "";
  return Base64(md, n);
}

// A prefix of `s` of at most `max` bytes that does not split a UTF-8
// sequence, with "…" when cut.
std::string Shorten(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "\u2026";
}

std::string Attr(std::string_view name, std::string_view value) {
  return " " + std::string(name) + "=\"" + HtmlEscape(value) + "\"";
}

// <time> with the absolute time as its tooltip.
std::string TimeCell(int64_t t, const std::string& text) {
  const std::string abs = FormatUnixTime(t);
  return "<time" + Attr("datetime", abs) + Attr("title", abs + " (UTC)") + ">" +
         HtmlEscape(text) + "</time>";
}

// "in 6 h 12 min" or "expired 2 d ago" for a nextUpdate, with the time as tooltip.
std::string MarginCell(int64_t next_update, int64_t now) {
  const int64_t margin = next_update - now;
  return TimeCell(next_update, margin >= 0 ? "in " + HumanDuration(margin)
                                           : "expired " + HumanDuration(-margin) + " ago");
}

// What a result says once its verdicts are read at `now`.
struct Reading {
  ProbeResult r;
  std::optional<int64_t> valid_until;  ///< nextUpdate (or the CRL's), when authentic
  std::string reason;                  ///< the bounded reason of a problem
  std::string detail;                  ///< the full text
};

Reading Read(const ProbeResult& in, int64_t now) {
  Reading x{in, std::nullopt, "", ""};
  ProbeResult& r = x.r;
  r.verdict = VerdictAt(r.verdict, now);
  if (r.crl) r.crl->verdict = CrlVerdictAt(r.crl->verdict, now);
  if (r.crl && r.crl->verdict.signature_verified) x.valid_until = r.crl->verdict.next_update;
  if (!r.crl && r.verdict->signature_verified) {
    x.valid_until = r.verdict->valid_until ? r.verdict->valid_until : r.verdict->next_update;
  }
  if (!r.success) {
    x.reason = r.failure_reason;
    x.detail = r.detail;
  } else if (r.crl) {
    x.reason = r.crl->verdict.invalid_reason;
    x.detail = r.crl->verdict.detail;
  } else {
    x.reason = r.verdict->invalid_reason;
    x.detail = !r.detail.empty() && r.verdict->detail.empty() ? r.detail : r.verdict->detail;
    if (!r.detail.empty() && !r.verdict->detail.empty() && r.detail != r.verdict->detail) {
      x.detail = r.verdict->detail + "; " + r.detail;  // e.g. "2 of 4 handshakes carried a staple"
    }
  }
  if (r.success && r.leaf_crl) {
    const LeafCrlStatus& c = *r.leaf_crl;
    std::string crl = "CRL: " + std::string(kLeafCrlStateNames[static_cast<int>(c.state)]);
    if (c.state == LeafCrlState::kRevoked) {
      crl += " (" + c.reason + (c.revoked_at ? ", " + FormatUnixTime(*c.revoked_at) : "") +
             (c.from_delta ? ", delta CRL" : "") + ")";
      if (x.reason.empty()) x.reason = "crl_revoked";
    }
    if (!c.detail.empty()) crl += ": " + c.detail;
    x.detail = x.detail.empty() || r.ocsp_skipped ? crl : x.detail + "; " + crl;
  }
  return x;
}

RowGroup GroupOfReading(const std::string& kind, const Reading& x) {
  const ProbeResult& r = x.r;
  if (r.success && r.leaf_crl && r.leaf_crl->state == LeafCrlState::kRevoked) {
    return RowGroup::kRevoked;
  }
  if (!r.success) return RowGroup::kFailed;
  if (r.crl) {
    switch (r.crl->verdict.state) {
      case CrlState::kValid: return RowGroup::kGood;
      case CrlState::kAbsent: return RowGroup::kAbsent;
      default: return RowGroup::kInvalid;
    }
  }
  if (r.ocsp_skipped) {
    return r.leaf_crl && r.leaf_crl->state == LeafCrlState::kGood ? RowGroup::kGood
                                                                  : RowGroup::kUnknown;
  }
  switch (r.verdict->state) {
    case ResponseState::kRevoked: return RowGroup::kRevoked;
    case ResponseState::kInvalid: return RowGroup::kInvalid;
    case ResponseState::kUnknown: return RowGroup::kUnknown;
    case ResponseState::kGood: return RowGroup::kGood;
    case ResponseState::kAbsent: break;
  }
  if ((kind == "tls" || kind.empty()) && r.must_staple && !r.staple_present) {
    return RowGroup::kMustStapleMissing;
  }
  return RowGroup::kAbsent;
}

// A column of a table: its header and its share of the width (a .wN
// class of kStyle).
struct Column {
  const char* header;
  int width;
};

constexpr Column kTargetColumns[] = {
    {"Target", 15},     {"Kind", 9},       {"Address", 14},   {"State", 12},  {"Staple", 6},
    {"Must-Staple", 6}, {"nextUpdate", 10}, {"Last probe", 7}, {"Detail", 21},
};
constexpr Column kStaplerColumns[] = {
    {"Certificate", 16}, {"Mode", 7},        {"Status", 9},        {"Serving", 7},
    {"Fatal", 7},        {"nextUpdate", 14}, {"Next refresh", 14}, {"Last error", 26},
};

// <table id> with its <colgroup> and <thead>.
template <size_t N>
void TableStart(std::ostringstream& h, std::string_view id, const Column (&columns)[N]) {
  h << "<table id=\"" << id << "\"><colgroup>";
  for (const Column& c : columns) h << "<col class=\"w" << c.width << "\">";
  h << "</colgroup><thead><tr>";
  for (const Column& c : columns) h << "<th>" << c.header << "</th>";
  h << "</tr></thead>";
}

// The data-label attribute of a cell of column i (the card layout's label).
std::string TargetLabel(size_t i) { return Attr("data-label", kTargetColumns[i].header); }

// The Detail cell: one line (the bounded reason, as HTML, and the start of
// `text`); the whole text unfolds from a <details> when it is longer.
void DetailCell(std::ostringstream& h, const std::string& reason_html, const std::string& text) {
  if (text.size() <= 32 && text.find('\n') == std::string::npos) {
    h << "<div class=\"line\">" << reason_html << HtmlEscape(text) << "</div>";
  } else {
    h << "<details><summary>" << reason_html << HtmlEscape(Shorten(text, 72))
      << "</summary><div class=\"full\">" << HtmlEscape(text) << "</div></details>";
  }
}

// One row of results: a target's, or (addresses = "all") one address's;
// `x` is null while the target has none.
void Row(std::ostringstream& h, const TargetSnapshot& t, const Reading* x,
         const std::string& address, bool address_row, int64_t now) {
  h << "<tr" << (address_row ? " class=\"addr\"" : "") << "><td class=\"n\"" << TargetLabel(0)
    << ">" << HtmlEscape(t.name()) << "</td><td class=\"k\"" << TargetLabel(1) << ">"
    << (address_row ? "address" : HtmlEscape(t.kind())) << "</td><td class=\"a\"" << TargetLabel(2)
    << ">" << HtmlEscape(address) << "</td>";
  if (x == nullptr) {
    h << "<td class=\"s pending\"" << TargetLabel(3)
      << ">pending</td><td></td><td></td><td></td><td></td><td></td></tr>\n";
    return;
  }
  const ProbeResult& r = x->r;
  const RowGroup group = GroupOfReading(t.kind(), *x);
  std::string label = StateLabel(r);
  h << "<td class=\"s " << kRowGroupIds[static_cast<int>(group)] << "\""
    << TargetLabel(3) << ">" << HtmlEscape(label) << "</td>";
  const bool staple = r.success && !r.crl && !r.ocsp_skipped;
  std::string stapled = staple ? (r.staple_present ? "yes" : "no") : "";
  if (r.extras().handshakes && r.success) {  // handshakes > 1: how many carried one
    stapled = std::to_string(r.extras().handshakes->stapled) + " of " +
              std::to_string(r.extras().handshakes->requested);
  }
  if (r.every_address) stapled.clear();  // see the address rows
  h << "<td class=\"y\"" << TargetLabel(4) << ">" << stapled << "</td>";
  h << "<td class=\"y\"" << TargetLabel(5) << ">"
    << (staple ? (r.must_staple ? "yes" : "no") : "") << "</td>";
  h << "<td class=\"m\"" << TargetLabel(6) << ">";
  if (x->valid_until) h << MarginCell(*x->valid_until, now);
  h << "</td><td class=\"l\"" << TargetLabel(7) << ">"
    << TimeCell(r.finished_at, HumanDuration(std::max<int64_t>(0, now - r.finished_at)) + " ago")
    << "</td>";
  // One line: the bounded reason and a short text; the rest expands.
  h << "<td class=\"d\"" << TargetLabel(8) << ">";
  DetailCell(h, x->reason.empty() ? "" : "<span class=\"r\">" + HtmlEscape(x->reason) + "</span> ",
             x->detail);
  h << "</td></tr>\n";
}

struct Placed {
  const TargetSnapshot* t;
  std::optional<Reading> reading;  ///< its last result read at now; none while pending
  RowGroup group;
  int64_t margin;  ///< to nextUpdate; max when none
};

// How many rows each group holds, and the [[crl]] targets by CRL state.
struct Tally {
  std::array<int, std::size(kRowGroupIds)> groups{};
  std::array<int, std::size(kCrlStateNames)> crls{};
  std::array<RowGroup, std::size(kCrlStateNames)> crl_group{};  ///< the group of each state
};

// Every target placed: worst group first; within a group, the smallest
// margin to nextUpdate first. Each result is read once, for its place and
// for its row.
std::vector<Placed> PlaceRows(const std::vector<TargetSnapshot>& targets, int64_t now,
                              Tally& tally) {
  std::vector<Placed> rows;
  rows.reserve(targets.size());
  for (const auto& t : targets) {
    Placed p{&t, std::nullopt, RowGroup::kPending, std::numeric_limits<int64_t>::max()};
    if (t.last) {
      const Reading& x = p.reading.emplace(Read(*t.last, now));
      p.group = GroupOfReading(t.kind(), x);
      if (x.valid_until) p.margin = *x.valid_until - now;
      if (t.kind() == "crl" && x.r.success && x.r.crl) {
        const auto s = static_cast<size_t>(x.r.crl->verdict.state);
        ++tally.crls[s];
        tally.crl_group[s] = p.group;
      }
    }
    ++tally.groups[static_cast<size_t>(p.group)];
    rows.push_back(std::move(p));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Placed& a, const Placed& b) {
    if (a.group != b.group) return a.group < b.group;
    if (a.margin != b.margin) return a.margin < b.margin;
    return a.t->name() < b.t->name();
  });
  return rows;
}

// The document's head, the title and the line of links.
void PageStart(std::ostringstream& h, std::string_view telemetry_path) {
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
       "<title>OCSP Staple Exporter</title>\n<style>"
    << kStyle
    << "</style></head><body>\n<h1>OCSP Staple Exporter</h1>\n<p class=\"links\">Version "
       OSE_VERSION " (" OSE_REVISION ") <a href=\""
    << HtmlEscape(telemetry_path.substr(1))
    << "\">Metrics</a> <a href=\"-/healthy\">Health</a> <a href=\"-/ready\">Readiness</a> "
       "<a href=\"api/v1/stapler\">Stapling engine (JSON)</a> "
       "<form action=\"probe\" method=\"get\">Probe "
       "<input name=\"target\" placeholder=\"host:443\" size=\"16\"> <input type=\"submit\" "
       "value=\"Go\"></form></p>\n";
}

// One count of the summary, linking to its rows (greyed when zero).
void SummaryItem(std::ostringstream& h, int n, std::string_view cls, std::string_view href,
                 std::string_view what) {
  if (n == 0) {
    h << "<span class=\"zero\" data-count=\"0\"" << Attr("data-what", what) << "><b>0</b> "
      << HtmlEscape(what) << "</span>";
    return;
  }
  h << "<a class=\"" << cls << "\" href=\"#" << href << "\" data-count=\"" << n << "\""
    << Attr("data-what", what) << "><b>" << n << "</b> " << HtmlEscape(what) << "</a>";
}

// The summary: targets per group, the stapling engine's fatal and
// not-serving certificates, [[crl]] targets per CRL state.
void Summary(std::ostringstream& h, const Tally& tally,
             const std::vector<StaplerCertState>& stapled) {
  h << "<nav class=\"summary\" aria-label=\"Summary\" id=\"summary\">";
  for (size_t g = 0; g < tally.groups.size(); ++g) {
    if (static_cast<RowGroup>(g) == RowGroup::kPending && tally.groups[g] == 0) continue;
    SummaryItem(h, tally.groups[g], kRowGroupIds[g], "g-" + std::string(kRowGroupIds[g]),
                kRowGroupNames[g]);
  }
  if (!stapled.empty()) {
    int fatal = 0, not_serving = 0;
    for (const auto& c : stapled) {
      fatal += c.fatal ? 1 : 0;
      not_serving += c.serving ? 0 : 1;
    }
    h << "<span class=\"sep\">Stapling engine:</span>";
    SummaryItem(h, fatal, "failed", "stapler", "fatal");
    SummaryItem(h, not_serving, "absent", "stapler", "not serving");
  }
  int crls = 0;
  for (int n : tally.crls) crls += n;
  if (crls > 0) {
    h << "<span class=\"sep\">CRLs:</span>";
    for (size_t s = 0; s < tally.crls.size(); ++s) {
      const auto g = static_cast<size_t>(tally.crl_group[s]);
      SummaryItem(h, tally.crls[s], kRowGroupIds[g], "g-" + std::string(kRowGroupIds[g]),
                  "CRL " + std::string(kCrlStateNames[s]));
    }
  }
  h << "</nav>\n";
}

// The targets: a <tbody> per group, a row per target and, under a target
// probed on every address, a row per address.
void TargetsTable(std::ostringstream& h, const std::vector<Placed>& rows, const Tally& tally,
                  int64_t now) {
  h << "<h2>Targets</h2>\n";
  TableStart(h, "targets", kTargetColumns);
  h << "\n";
  std::optional<RowGroup> open;
  for (const Placed& p : rows) {
    if (open != p.group) {
      if (open) h << "</tbody>\n";
      open = p.group;
      const auto g = static_cast<size_t>(p.group);
      h << "<tbody id=\"g-" << kRowGroupIds[g] << "\"><tr class=\"group\"><th colspan=\""
        << std::size(kTargetColumns) << "\" class=\"" << kRowGroupIds[g] << "\">"
        << HtmlEscape(kRowGroupNames[g]) << " (" << tally.groups[g] << ")</th></tr>\n";
    }
    const TargetSnapshot& t = *p.t;
    Row(h, t, p.reading ? &*p.reading : nullptr, t.address(), false, now);
    if (t.last) {
      for (const ProbeResult& a : t.last->extras().per_address) {
        const Reading x = Read(a, now);
        Row(h, t, &x, a.address, true, now);
      }
    }
  }
  if (open) h << "</tbody>\n";
  h << "</table>\n";
}

// One certificate of the stapling engine, its held staple read at `now`.
void StaplerRow(std::ostringstream& h, StaplerCertState c, int64_t now) {
  auto label = [](size_t i) { return Attr("data-label", kStaplerColumns[i].header); };
  c.held = VerdictAt(c.held, now);
  const std::string status(StateName(c.held.state));
  h << "<tr><td class=\"n\"" << label(0) << ">" << HtmlEscape(c.name) << "</td><td" << label(1)
    << ">" << ModeName(c.mode) << "</td><td" << Attr("class", status) << label(2) << ">"
    << status << "</td><td" << Attr("class", c.serving ? "good" : "absent") << label(3) << ">"
    << (c.serving ? "yes" : "no") << "</td><td" << Attr("class", c.fatal ? "failed" : "")
    << label(4) << ">" << (c.fatal ? "FATAL" : "no") << "</td><td class=\"m\"" << label(5)
    << ">";
  if (c.held.signature_verified && c.held.next_update) h << MarginCell(*c.held.next_update, now);
  h << "</td><td class=\"m\"" << label(6) << ">";
  if (c.next_refresh > 0) {
    const int64_t in = c.next_refresh - now;
    h << TimeCell(c.next_refresh,
                  in >= 0 ? "in " + HumanDuration(in) : HumanDuration(-in) + " overdue");
  }
  h << "</td><td class=\"d\"" << label(7) << ">";
  DetailCell(h, "", c.last_error);
  h << "</td></tr>\n";
}

// The stapling engine's certificates: fatal first, then not serving.
void StaplerTable(std::ostringstream& h, const std::vector<StaplerCertState>& stapled,
                  int64_t now) {
  if (stapled.empty()) return;
  std::vector<const StaplerCertState*> certs;
  for (const auto& c : stapled) certs.push_back(&c);
  std::stable_sort(certs.begin(), certs.end(), [](const auto* a, const auto* b) {
    return std::make_tuple(!a->fatal, a->serving, a->name) <
           std::make_tuple(!b->fatal, b->serving, b->name);
  });
  h << "<h2>Stapling engine</h2>\n";
  TableStart(h, "stapler", kStaplerColumns);
  h << "<tbody>\n";
  for (const StaplerCertState* c : certs) StaplerRow(h, *c, now);
  h << "</tbody></table>\n";
}

}  // namespace

RowGroup GroupOf(const TargetSnapshot& t, int64_t now) {
  if (!t.last) return RowGroup::kPending;
  return GroupOfReading(t.kind(), Read(*t.last, now));
}

std::string HumanDuration(int64_t s) {
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string(s / 60) + " min";
  if (s < 86400) {
    const int64_t m = (s % 3600) / 60;
    return std::to_string(s / 3600) + " h" + (m > 0 ? " " + std::to_string(m) + " min" : "");
  }
  const int64_t hours = (s % 86400) / 3600;
  return std::to_string(s / 86400) + " d" + (hours > 0 ? " " + std::to_string(hours) + " h" : "");
}

const std::string& LandingPageCsp() {
  static const std::string csp = "default-src 'none'; style-src 'sha256-" + StyleHash() +
                                 "'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
  return csp;
}

std::string LandingPage(const std::vector<TargetSnapshot>& targets,
                        const std::vector<StaplerCertState>& stapled, int64_t now,
                        std::string_view telemetry_path) {
  Tally tally;
  const std::vector<Placed> rows = PlaceRows(targets, now, tally);
  std::ostringstream h;
  PageStart(h, telemetry_path);
  Summary(h, tally, stapled);
  TargetsTable(h, rows, tally, now);
  StaplerTable(h, stapled, now);
  h << "</body></html>\n";
  return h.str();
}

std::string HtmlEscape(std::string_view raw) { return MarkupEscape(raw); }

}  // namespace ose
