#include "core/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <utility>

namespace freshet {
namespace {

// Registry misuse is a wiring bug found on the first run, not an expected failure: stop loudly.
[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "freshet metrics: %s\n", message.c_str());
  std::abort();
}

bool IsNameChar(char c, bool first, bool allow_colon) {
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  bool digit = c >= '0' && c <= '9';
  return alpha || (allow_colon && c == ':') || (!first && digit);
}

bool IsValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, allow_colon)) return false;
  }
  return true;
}

void CheckNames(std::string_view name, const std::vector<std::string>& label_names) {
  if (!IsValidName(name, /*allow_colon=*/true)) Die(fmt::format("invalid metric name '{}'", name));
  for (const std::string& label : label_names) {
    // "__" prefixes are reserved for Prometheus itself.
    if (!IsValidName(label, /*allow_colon=*/false) || label.starts_with("__")) {
      Die(fmt::format("metric '{}': invalid label name '{}'", name, label));
    }
  }
}

void CheckBounds(const std::vector<double>& bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      Die("histogram bounds must be finite and strictly increasing");
    }
  }
}

// Prometheus spells the special values its own way; fmt's shortest round-trip form otherwise.
void AppendDouble(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
  } else {
    fmt::format_to(std::back_inserter(*out), "{}", v);
  }
}

// Escapes backslash and newline, and also the double quote inside label values.
void AppendEscaped(std::string_view text, bool escape_quote, std::string* out) {
  for (char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && escape_quote) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// `name{labels} value` (no braces when there are no labels).
void AppendSample(std::string_view name, std::string_view suffix, std::string_view labels,
                  double value, std::string* out) {
  out->append(name).append(suffix);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  out->push_back(' ');
  AppendDouble(value, out);
  out->push_back('\n');
}

std::string WithLe(std::string_view labels, std::string_view le) {
  std::string result(labels);
  if (!result.empty()) result.push_back(',');
  result.append("le=\"").append(le).append("\"");
  return result;
}

void AppendChild(std::string_view name, std::string_view labels, const Counter& c,
                 std::string* out) {
  AppendSample(name, "", labels, c.Value(), out);
}

void AppendChild(std::string_view name, std::string_view labels, const Gauge& g, std::string* out) {
  AppendSample(name, "", labels, g.Value(), out);
}

void AppendChild(std::string_view name, std::string_view labels, const Histogram& h,
                 std::string* out) {
  std::vector<uint64_t> cumulative = h.CumulativeCounts();
  const std::vector<double>& bounds = h.upper_bounds();
  for (size_t i = 0; i < bounds.size(); ++i) {
    std::string le;
    AppendDouble(bounds[i], &le);
    AppendSample(name, "_bucket", WithLe(labels, le), static_cast<double>(cumulative[i]), out);
  }
  double total = static_cast<double>(cumulative.back());
  AppendSample(name, "_bucket", WithLe(labels, "+Inf"), total, out);
  AppendSample(name, "_sum", labels, h.Sum(), out);
  AppendSample(name, "_count", labels, total, out);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  CheckBounds(upper_bounds_);
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double value) {
  // `!(bound >= value)` rather than `bound < value` so that NaN lands in +Inf.
  auto it = std::partition_point(upper_bounds_.begin(), upper_bounds_.end(),
                                 [value](double bound) { return !(bound >= value); });
  counts_[it - upper_bounds_.begin()].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> cumulative(upper_bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i < cumulative.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    cumulative[i] = running;
  }
  return cumulative;
}

const std::vector<double>& DefaultLatencyBuckets() {
  static const std::vector<double> kBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                               0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                               0.5,     1,      2.5,     5,      10};
  return kBuckets;
}

MetricFamilyBase::MetricFamilyBase(std::string name, std::string help, std::string type,
                                   std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(std::move(type)),
      label_names_(std::move(label_names)) {}

void MetricFamilyBase::Render(std::string* out) const {
  out->append("# HELP ").append(name_).push_back(' ');
  AppendEscaped(help_, /*escape_quote=*/false, out);
  out->append("\n# TYPE ").append(name_).append(" ").append(type_).push_back('\n');
  RenderSamples(out);
}

void MetricFamilyBase::CheckLabelCount(const std::vector<std::string>& values) const {
  if (values.size() != label_names_.size()) {
    Die(fmt::format("metric '{}' has {} labels, got {} values", name_, label_names_.size(),
                    values.size()));
  }
}

std::string MetricFamilyBase::FormatLabels(const std::vector<std::string>& values) const {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(label_names_[i]).append("=\"");
    AppendEscaped(values[i], /*escape_quote=*/true, &out);
    out.push_back('"');
  }
  return out;
}

template <typename T>
T* MetricFamily<T>::WithLabels(std::vector<std::string> values) {
  CheckLabelCount(values);
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<T>& child = children_[std::move(values)];
  if (child == nullptr) child = make_child_();
  return child.get();
}

template <typename T>
void MetricFamily<T>::RenderSamples(std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, child] : children_) {
    AppendChild(name(), FormatLabels(values), *child, out);
  }
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricFamilyBase* MetricsRegistry::Find(std::string_view name, std::string_view type,
                                        const std::vector<std::string>& label_names) const {
  for (const auto& family : families_) {
    if (family->name() != name) continue;
    if (family->type() != type || family->label_names() != label_names) {
      Die(fmt::format("metric '{}' added again with a different kind or labels", name));
    }
    return family.get();
  }
  return nullptr;
}

template <typename T>
MetricFamily<T>* MetricsRegistry::GetOrAdd(std::string_view name, std::string_view help,
                                           std::string_view type,
                                           std::vector<std::string> label_names,
                                           std::function<std::unique_ptr<T>()> make_child) {
  CheckNames(name, label_names);
  std::lock_guard<std::mutex> lock(mu_);
  // Find checked the kind, so the cast is to the family's real type.
  if (MetricFamilyBase* existing = Find(name, type, label_names)) {
    return static_cast<MetricFamily<T>*>(existing);
  }
  auto family =
      std::make_unique<MetricFamily<T>>(std::string(name), std::string(help), std::string(type),
                                        std::move(label_names), std::move(make_child));
  MetricFamily<T>* result = family.get();
  families_.push_back(std::move(family));
  return result;
}

CounterFamily* MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                           std::vector<std::string> label_names) {
  return GetOrAdd<Counter>(name, help, "counter", std::move(label_names),
                           [] { return std::make_unique<Counter>(); });
}

GaugeFamily* MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                       std::vector<std::string> label_names) {
  return GetOrAdd<Gauge>(name, help, "gauge", std::move(label_names),
                         [] { return std::make_unique<Gauge>(); });
}

HistogramFamily* MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                               std::vector<std::string> label_names,
                                               std::vector<double> upper_bounds) {
  // "le" is the bucket label of the exposition format.
  if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
    Die(fmt::format("histogram '{}' cannot have a label named 'le'", name));
  }
  CheckBounds(upper_bounds);
  return GetOrAdd<Histogram>(
      name, help, "histogram", std::move(label_names),
      [bounds = std::move(upper_bounds)] { return std::make_unique<Histogram>(bounds); });
}

std::string MetricsRegistry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& family : families_) family->Render(&out);
  return out;
}

}  // namespace freshet
