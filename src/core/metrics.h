// A small Prometheus metrics registry: counters, gauges and fixed-bucket histograms, each in a
// family with named labels, rendered in the Prometheus text exposition format (version 0.0.4).
//
// Usage: a component's *_probe class gets its families once and caches child pointers:
//
//   CounterFamily* requests = registry->GetCounter(
//       "freshet_http_requests_total", "HTTP requests served.", {"route", "method", "code"});
//   Counter* ok = requests->WithLabels({"/v1/features", "POST", "200"});
//   ok->Increment();  // lock-free
//
// Ownership: the registry owns its families and each family owns its children; every pointer
// handed out stays valid until the registry is destroyed, so callers cache them freely.
//
// Thread-safety: everything is thread-safe. Increment/Set/Add/Observe on a child are lock-free
// (relaxed atomics: a concurrent Render sees each value at some recent point, not a snapshot
// across series). WithLabels and the Get* methods lock: call them when wiring, not per event.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace freshet {

// A value that only goes up (events, bytes). Prometheus counters are floating point.
class Counter {
 public:
  // REQUIRES: delta >= 0.
  void Increment(double delta = 1) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down (queue depth, open connections).
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets by upper bound (a value v falls in the first bucket
// whose bound is >= v; values above every bound, and NaN, fall in the implicit +Inf bucket).
class Histogram {
 public:
  // REQUIRES: upper_bounds strictly increasing and finite.
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  // Cumulative counts, one per upper bound then one for +Inf (which equals the total count).
  std::vector<uint64_t> CumulativeCounts() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  const std::vector<double> upper_bounds_;
  // Per-bucket (not cumulative) counts; the last slot is +Inf. The total is derived from them
  // so that _count always equals the +Inf bucket in a rendering.
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Bucket bounds for latencies in seconds, from 50us to 10s.
const std::vector<double>& DefaultLatencyBuckets();

// The part of a family that does not depend on the kind of metric. Internal to the registry.
class MetricFamilyBase {
 public:
  MetricFamilyBase(std::string name, std::string help, std::string type,
                   std::vector<std::string> label_names);
  virtual ~MetricFamilyBase() = default;

  const std::string& name() const { return name_; }
  const std::string& type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends HELP, TYPE and one line per sample.
  void Render(std::string* out) const;

 protected:
  // Appends one line per sample, children in label-value order.
  virtual void RenderSamples(std::string* out) const = 0;

  // Aborts with a message unless `values` has one entry per label name (a wiring bug).
  void CheckLabelCount(const std::vector<std::string>& values) const;
  // `a="x",b="y"` for the given label values, escaped.
  std::string FormatLabels(const std::vector<std::string>& values) const;

 private:
  const std::string name_;
  const std::string help_;
  const std::string type_;
  const std::vector<std::string> label_names_;
};

// All series of one metric name, one child per distinct tuple of label values.
template <typename T>
class MetricFamily final : public MetricFamilyBase {
 public:
  MetricFamily(std::string name, std::string help, std::string type,
               std::vector<std::string> label_names, std::function<std::unique_ptr<T>()> make_child)
      : MetricFamilyBase(std::move(name), std::move(help), std::move(type), std::move(label_names)),
        make_child_(std::move(make_child)) {}

  // The child for these label values (one per label name, in order), created on first use.
  // Locks; cache the result. REQUIRES: values.size() == label_names().size().
  T* WithLabels(std::vector<std::string> values);

 protected:
  void RenderSamples(std::string* out) const override;

 private:
  const std::function<std::unique_ptr<T>()> make_child_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;  // guarded by mu_
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

extern template class MetricFamily<Counter>;
extern template class MetricFamily<Gauge>;
extern template class MetricFamily<Histogram>;

// The set of families a process exposes on /metrics.
class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each Get* returns the family called `name`, creating it on first use; asking again with the
  // same kind and labels returns the same family (so two instances of a component can share a
  // registry). REQUIRES: `name` and label names are valid Prometheus
  // names, and an existing family of that name has the same kind and label names (a mismatch is
  // a wiring bug and aborts).
  CounterFamily* GetCounter(std::string_view name, std::string_view help,
                            std::vector<std::string> label_names = {});
  GaugeFamily* GetGauge(std::string_view name, std::string_view help,
                        std::vector<std::string> label_names = {});
  HistogramFamily* GetHistogram(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names = {},
                                std::vector<double> upper_bounds = DefaultLatencyBuckets());

  // Every family in the Prometheus text format, families in the order they were added and
  // series sorted by label values.
  std::string Render() const;

 private:
  // Returns the existing family `name` (checked against type and labels) or null.
  MetricFamilyBase* Find(std::string_view name, std::string_view type,
                         const std::vector<std::string>& label_names) const;
  template <typename T>
  MetricFamily<T>* GetOrAdd(std::string_view name, std::string_view help, std::string_view type,
                            std::vector<std::string> label_names,
                            std::function<std::unique_ptr<T>()> make_child);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<MetricFamilyBase>> families_;  // guarded by mu_
};

}  // namespace freshet
