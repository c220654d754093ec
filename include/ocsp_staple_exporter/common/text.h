#pragma once
// Text from the network (Content-Type values, error details, certificate
// names) may hold any bytes. Everything that ends up in JSON, logfmt, HTML
// or an Alertmanager payload goes through these first.

#include <string>
#include <string_view>

namespace ose {

/// `s` with every invalid UTF-8 sequence replaced by U+FFFD (nlohmann's
/// decoder decides validity). Valid text is returned unchanged.
std::string ValidUtf8(std::string_view s);

/// `s` as a JSON string literal with quotes: invalid UTF-8 replaced by
/// U+FFFD, control characters escaped (\n, \u001b, ...). Never throws.
std::string JsonQuote(std::string_view s);

/// `s` as HTML or XML text or attribute value: invalid UTF-8 replaced by
/// U+FFFD, then & < > " ' as character references (&amp; &lt; &gt; &quot;
/// &#39;).
std::string MarkupEscape(std::string_view s);

/// `s` with ASCII letters lower-cased (host names, header names); other
/// bytes unchanged, whatever the locale.
std::string AsciiLower(std::string_view s);

}  // namespace ose
