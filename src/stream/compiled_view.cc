#include "stream/compiled_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "core/int_math.h"
#include "stream/compiled_view_impl.h"
#include "stream/value_ops.h"
#include "stream/view_state.h"

namespace freshet {
namespace {

constexpr size_t kMaxFilters = 32;  // bits of the per-event mask

// Builds a CompiledView::Impl from a FeatureViewSpec, one concern per method.
class ViewCompiler {
 public:
  ViewCompiler(const ProjectSpec& spec, const FeatureViewSpec& view, CompiledView::Impl* plan)
      : spec_(spec), view_(view), plan_(plan) {}

  Status Compile() {
    auto source_it = spec_.sources.find(view_.source);
    auto entity_it = spec_.entities.find(view_.entity);
    if (source_it == spec_.sources.end() || entity_it == spec_.entities.end()) {
      return Error(view_.line, "",
                   fmt::format("unknown source '{}' or entity '{}'", view_.source, view_.entity));
    }
    // The source's fields, then the fields its lookups append (ViewLookups).
    input_ = ViewInputSchema(spec_, view_);
    source_ = &input_;
    plan_->spec = view_;
    for (const std::string& key : entity_it->second.keys) {
      int index = source_->FieldIndex(key);
      if (index < 0)
        return Error(view_.line, "entity",
                     fmt::format("key field '{}' is not in source '{}'", key, source_->name));
      plan_->key_fields.push_back(index);
    }
    for (const FeatureSpec& feature : view_.features) RETURN_IF_ERROR(AddFeature(feature));
    RETURN_IF_ERROR(CompileDerived());
    plan_->mask_word = plan_->row_has_mask ? 1 : plan_->row_words;
    plan_->event_words = plan_->row_has_mask ? plan_->row_words : plan_->row_words + 1;
    plan_->insert_reads_record = plan_->side_columns > 0;
    for (int index : plan_->tiled) {
      if (plan_->features[index].input >= 0) plan_->insert_reads_record = true;
    }
    plan_->fingerprint = HashBytes(shape_);
    return Status::Ok();
  }

 private:
  // "freshet.yaml:14: feature_views.v.features.f.where: what".
  Status Error(int line, std::string_view field, std::string_view what) const {
    std::string path = fmt::format("feature_views.{}", view_.name);
    if (!field.empty()) path += fmt::format(".{}", field);
    return Status::InvalidArgument(fmt::format("{}:{}: {}: {}", spec_.spec_path, line, path, what));
  }
  Status FeatureError(const FeatureSpec& f, std::string_view key, std::string_view what) const {
    return Error(f.line, fmt::format("features.{}.{}", f.name, key), what);
  }

  Status AddFeature(const FeatureSpec& spec) {
    FeaturePlan f;
    f.name = spec.name;
    f.line = spec.line;
    plan_->names.push_back(spec.name);
    if (!spec.agg) {
      f.derived = true;
      plan_->features.push_back(std::move(f));
      return Status::Ok();
    }
    std::optional<FieldType> input_type;
    if (!spec.of.empty()) {
      f.input = source_->FieldIndex(spec.of);
      if (f.input < 0)
        return FeatureError(
            spec, "of", fmt::format("'{}' is not a field of source '{}'", spec.of, source_->name));
      input_type = source_->fields[f.input].type;
    }
    bool int_input = input_type == FieldType::kInt64 || input_type == FieldType::kTimestamp;
    f.agg = Aggregation(*spec.agg, spec.n, spec.approx, int_input, spec.q);
    f.window = spec.window;
    f.window_ms = spec.window_ms;
    f.hop_ms = spec.hop_ms;
    f.gap_ms = spec.session_gap_ms;
    f.result_type = AggResultType(*spec.agg, input_type);
    RETURN_IF_ERROR(CheckWindow(spec));
    if (!spec.where.empty()) {
      ASSIGN_OR_RETURN(f.filter, FilterBit(spec));
    }
    if (f.window == WindowKind::kSliding) {
      PlanRaw(&f);
    } else {
      f.tiles = static_cast<int>(plan_->tiled.size());
      plan_->tiled.push_back(static_cast<int>(plan_->features.size()));
    }
    plan_->retention_ms = std::max(plan_->retention_ms, Lookback(f));
    shape_ += fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}\n", spec.name,
                          static_cast<int>(*spec.agg), static_cast<int>(spec.window),
                          spec.window_ms, spec.hop_ms, spec.session_gap_ms, spec.n, spec.approx,
                          spec.of, input_type ? static_cast<int>(*input_type) : 0, spec.where);
    plan_->features.push_back(std::move(f));
    return Status::Ok();
  }

  Status CheckWindow(const FeatureSpec& spec) const {
    bool needs_span = spec.window == WindowKind::kSliding || spec.window == WindowKind::kHopping ||
                      spec.window == WindowKind::kTumbling;
    if (needs_span && spec.window_ms <= 0) return FeatureError(spec, "window", "must be positive");
    if (spec.window == WindowKind::kHopping &&
        (spec.hop_ms <= 0 || spec.window_ms % spec.hop_ms != 0)) {
      return FeatureError(spec, "hop", "must be positive and divide the window");
    }
    if (spec.window == WindowKind::kSession && spec.session_gap_ms <= 0) {
      return FeatureError(spec, "session_gap", "must be positive");
    }
    if ((*spec.agg == AggKind::kLastN || *spec.agg == AggKind::kTopK) && spec.n < 1) {
      return FeatureError(spec, *spec.agg == AggKind::kLastN ? "n" : "k", "must be at least 1");
    }
    if (*spec.agg == AggKind::kApproxPercentile && !(spec.q > 0 && spec.q < 1)) {
      return FeatureError(spec, "q", "must be between 0 and 1 (exclusive)");
    }
    return Status::Ok();
  }

  static int64_t Lookback(const FeaturePlan& f) {
    switch (f.window) {
      case WindowKind::kSliding:
      case WindowKind::kTumbling:
        return f.window_ms;
      case WindowKind::kHopping:
        return SaturatingAdd(f.window_ms, f.hop_ms);
      case WindowKind::kSession:
        return f.gap_ms;
      case WindowKind::kLifetime:
        return 0;
    }
    return 0;
  }

  // The mask bit of the feature's `where` text, compiling it on first use.
  Result<int> FilterBit(const FeatureSpec& spec) {
    auto it = filter_bits_.find(spec.where);
    if (it != filter_bits_.end()) return it->second;
    if (plan_->filters.size() == kMaxFilters) {
      return FeatureError(
          spec, "where",
          fmt::format("a view may use at most {} distinct where filters", kMaxFilters));
    }
    const SourceSpec& source = *source_;
    NameResolver resolve = [&source](std::string_view name) -> std::optional<ResolvedName> {
      int index = source.FieldIndex(std::string(name));
      if (index < 0) return std::nullopt;
      FieldType type = source.fields[index].type;
      return ResolvedName{index, type == FieldType::kTimestamp ? FieldType::kInt64 : type};
    };
    auto expr = Expr::CompileFilter(spec.where, resolve);
    if (!expr.ok()) return FeatureError(spec, "where", expr.status().message());
    int bit = static_cast<int>(plan_->filters.size());
    plan_->filters.push_back(std::move(expr).value());
    filter_bits_.emplace(spec.where, bit);
    return bit;
  }

  // A sliding feature keeps raw rows: every event, or those passing its filter, with a cell
  // for its input field.
  void PlanRaw(FeaturePlan* f) {
    plan_->has_raw = true;
    plan_->max_sliding_ms = std::max(plan_->max_sliding_ms, f->window_ms);
    if (f->filter < 0) {
      plan_->raw_unfiltered = true;
    } else {
      plan_->raw_filter_bits |= 1u << f->filter;
      plan_->row_has_mask = true;
    }
    if (f->input >= 0) f->raw_column = ColumnFor(f->input);
    // Layout: ts, then the mask, then numeric cells; assigned once all features are known.
    LayoutRows();
  }

  int ColumnFor(int field) {
    for (size_t i = 0; i < plan_->raw_columns.size(); ++i) {
      if (plan_->raw_columns[i].field == field) return static_cast<int>(i);
    }
    FieldType type = source_->fields[field].type;
    RawColumn c;
    c.field = field;
    c.kind = type == FieldType::kDouble                                   ? CellKind::kDouble
             : type == FieldType::kInt64 || type == FieldType::kTimestamp ? CellKind::kInt
                                                                          : CellKind::kValue;
    plan_->raw_columns.push_back(c);
    return static_cast<int>(plan_->raw_columns.size() - 1);
  }

  void LayoutRows() {
    int word = plan_->row_has_mask ? 2 : 1;
    int side = 0;
    for (RawColumn& c : plan_->raw_columns) c.slot = c.kind == CellKind::kValue ? side++ : word++;
    plan_->row_words = word;
    plan_->side_columns = side;
  }

  Status CompileDerived() {
    const auto& features = plan_->features;
    NameResolver resolve = [&features](std::string_view name) -> std::optional<ResolvedName> {
      for (size_t i = 0; i < features.size(); ++i) {
        if (features[i].name == name)
          return ResolvedName{static_cast<int>(i), features[i].result_type};
      }
      return std::nullopt;
    };
    for (size_t i = 0; i < plan_->features.size(); ++i) {
      FeaturePlan& f = plan_->features[i];
      if (!f.derived) continue;
      const FeatureSpec& spec = view_.features[i];
      auto expr = Expr::Compile(spec.expr, resolve);
      if (!expr.ok()) return FeatureError(spec, "expr", expr.status().message());
      f.expr = std::move(expr).value();
    }
    return OrderDerived();
  }

  // Depth-first topological order; a back edge is a cycle.
  Status OrderDerived() {
    std::vector<int> state(plan_->features.size(), 0);  // 0 new, 1 on the stack, 2 done
    std::vector<int> stack;
    for (size_t i = 0; i < plan_->features.size(); ++i) {
      if (plan_->features[i].derived) RETURN_IF_ERROR(Visit(static_cast<int>(i), &state, &stack));
    }
    return Status::Ok();
  }

  Status Visit(int i, std::vector<int>* state, std::vector<int>* stack) {
    const FeaturePlan& f = plan_->features[i];
    if (!f.derived || (*state)[i] == 2) return Status::Ok();
    stack->push_back(i);
    if ((*state)[i] == 1) {
      std::string cycle;
      for (auto it = std::find(stack->begin(), stack->end(), i); it != stack->end(); ++it) {
        cycle += (cycle.empty() ? "" : " -> ") + plan_->features[*it].name;
      }
      return FeatureError(view_.features[i], "expr",
                          fmt::format("derived features form a cycle: {}", cycle));
    }
    (*state)[i] = 1;
    for (int dep : f.expr->slots_used()) RETURN_IF_ERROR(Visit(dep, state, stack));
    (*state)[i] = 2;
    stack->pop_back();
    plan_->derived_order.push_back(i);
    return Status::Ok();
  }

  const ProjectSpec& spec_;
  const FeatureViewSpec& view_;
  CompiledView::Impl* plan_;
  SourceSpec input_;  // the fields the view's features read
  const SourceSpec* source_ = nullptr;
  std::map<std::string, int> filter_bits_;
  std::string shape_;  // canonical description of the state layout, hashed to the fingerprint
};

}  // namespace

std::string_view ReadStatusName(ReadStatus s) {
  switch (s) {
    case ReadStatus::kPresent:
      return "PRESENT";
    case ReadStatus::kNotFound:
      return "NOT_FOUND";
    case ReadStatus::kOutsideMaxAge:
      return "OUTSIDE_MAX_AGE";
    case ReadStatus::kNullValue:
      return "NULL_VALUE";
  }
  return "UNKNOWN";
}

Result<std::shared_ptr<const CompiledView>> CompiledView::Compile(const ProjectSpec& spec,
                                                                  const FeatureViewSpec& view) {
  auto impl = std::make_unique<Impl>();
  RETURN_IF_ERROR(ViewCompiler(spec, view, impl.get()).Compile());
  return std::shared_ptr<const CompiledView>(new CompiledView(std::move(impl)));
}

CompiledView::CompiledView(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledView::~CompiledView() = default;

const FeatureViewSpec& CompiledView::spec() const { return impl_->spec; }
const std::vector<std::string>& CompiledView::feature_names() const { return impl_->names; }
const std::vector<int>& CompiledView::key_field_indexes() const { return impl_->key_fields; }
int64_t CompiledView::retention_ms() const { return impl_->retention_ms; }

int CompiledView::FeatureIndex(std::string_view name) const {
  for (size_t i = 0; i < impl_->names.size(); ++i) {
    if (impl_->names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

Result<std::vector<int>> CompiledView::FeatureIndexes(const std::vector<std::string>& names) const {
  std::vector<int> out;
  out.reserve(names.size());
  for (const std::string& name : names) {
    int index = FeatureIndex(name);
    if (index < 0) {
      return Status::NotFound(
          fmt::format("feature view '{}' has no feature '{}'", impl_->spec.name, name));
    }
    out.push_back(index);
  }
  return out;
}

std::unique_ptr<EntityState> CompiledView::NewState() const {
  return std::make_unique<ViewState>(*impl_);
}

ReadStatus CompiledView::ReadEntity(EntityState* state, int64_t as_of_ms,
                                    const std::vector<int>& features,
                                    std::vector<Value>* out) const {
  if (state == nullptr) {
    impl_->ReadFeatures(nullptr, as_of_ms, features, out);
    return ReadStatus::kNotFound;
  }
  const int64_t ttl = impl_->spec.ttl_ms;
  if (ttl > 0 && state->last_event_ms() < SaturatingSub(as_of_ms, ttl)) {
    out->assign(features.empty() ? impl_->names.size() : features.size(), Value());
    return ReadStatus::kOutsideMaxAge;
  }
  state->Read(as_of_ms, features, out);
  return ReadStatus::kPresent;
}

void CompiledView::Impl::ReadFeatures(const ViewState* state, int64_t t,
                                      const std::vector<int>& requested,
                                      std::vector<Value>* out) const {
  const size_t n = features.size();
  std::vector<char> needed(n, requested.empty() ? 1 : 0);
  for (int i : requested) needed[i] = 1;
  for (auto it = derived_order.rbegin(); it != derived_order.rend(); ++it) {
    if (!needed[*it]) continue;
    for (int dep : features[*it].expr->slots_used()) needed[dep] = 1;
  }
  std::vector<Value> values(n);
  SlidingBounds bounds;
  for (size_t i = 0; i < n; ++i) {
    const FeaturePlan& f = features[i];
    if (!needed[i] || f.derived) continue;
    values[i] = state ? state->AggregateAt(f, t, &bounds)
                      : f.agg.Result(f.agg.NewAcc(), std::max<int64_t>(f.window_ms, 1));
  }
  for (int i : derived_order) {
    if (needed[i]) values[i] = features[i].expr->Eval(values.data());
  }
  if (requested.empty()) {
    *out = std::move(values);
    return;
  }
  out->clear();
  out->reserve(requested.size());
  for (int i : requested) out->push_back(values[i]);
}

}  // namespace freshet
