// Table sources over HTTP:
//   POST   /v1/tables/{source}   upsert rows: JSON object, array or NDJSON, or CSV with a
//                                header when Content-Type is text/csv. {"source", "upserted"}
//   DELETE /v1/tables/{source}   delete rows (tombstones): either ?key=K (one-field entities)
//                                or ?<key field>=V for each key field, with an optional ts=
//                                (epoch ms or RFC 3339; default now); or a body of rows holding
//                                the key fields and the timestamp. {"source", "deleted"}
// A load is all or nothing: a bad row answers 400 naming its line/record and field (details
// as for events), and nothing is stored. Unknown source: 404; a source not of kind table: 400.
#include <fmt/format.h>

#include "api/api.h"
#include "api/api_json.h"
#include "core/json.h"
#include "format/csv.h"
#include "server/json_error.h"

namespace freshet {
namespace {

TableFormat BodyFormat(const HttpRequest& req) {
  const std::string* type = req.headers.Get("Content-Type");
  return type && type->find("csv") != std::string::npos ? TableFormat::kCsv : TableFormat::kJson;
}

void Answer(HttpResponse* res, const std::string& source, std::string_view what, size_t n) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("source");
  w.String(source.data(), static_cast<rapidjson::SizeType>(source.size()));
  w.Key(what.data(), static_cast<rapidjson::SizeType>(what.size()));
  w.Uint64(n);
  w.EndObject();
  res->body = buf.GetString();
}

void Upsert(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string& source = *req.PathParam("source");
  ParseError bad_row;
  auto n = instance->tables()->Upsert(source, req.body, BodyFormat(req), &bad_row);
  if (!n.ok()) {
    SetError(res, n.status(), ParseErrorDetailsToJson(bad_row));
    return;
  }
  Answer(res, source, "upserted", *n);
}

// The key of a DELETE without a body, from the query: `key` for an entity of one key field,
// else each key field by name, typed by the table's schema.
Result<std::vector<Value>> QueryKey(const ProjectSpec& spec, const SourceSpec& table,
                                    const HttpRequest& req) {
  const EntitySpec& entity = spec.entities.at(table.entity);
  std::vector<Value> key(entity.keys.size());
  for (size_t k = 0; k < entity.keys.size(); ++k) {
    const std::string& name = entity.keys[k];
    const std::string* text = req.QueryParam(name);
    if (!text && entity.keys.size() == 1) text = req.QueryParam("key");
    if (!text) {
      return Status::InvalidArgument(
          entity.keys.size() == 1
              ? fmt::format("missing query parameter 'key' (or '{}'), or a body of rows", name)
              : fmt::format("missing query parameter '{}' (a key field of entity '{}')", name,
                            entity.name));
    }
    FieldType type = table.fields[table.FieldIndex(name)].type;
    if (!ParseCsvCell(type, *text, &key[k])) {
      return Status::InvalidArgument(fmt::format("query parameter '{}': expected {}, got '{}'",
                                                 name, FieldTypeName(type), *text));
    }
  }
  return key;
}

Result<size_t> DeleteByQuery(Instance* instance, const std::string& source,
                             const HttpRequest& req) {
  ASSIGN_OR_RETURN(const SourceSpec* table, instance->tables()->Table(source));
  ASSIGN_OR_RETURN(std::vector<Value> key, QueryKey(instance->spec(), *table, req));
  int64_t ts_ms = instance->clock()->NowMs();
  if (const std::string* ts = req.QueryParam("ts")) {
    Value parsed;
    if (!ParseCsvCell(FieldType::kTimestamp, *ts, &parsed)) {
      return Status::InvalidArgument(
          fmt::format("query parameter 'ts': expected epoch ms or RFC 3339, got '{}'", *ts));
    }
    ts_ms = parsed.as_int();
  }
  return instance->tables()->DeleteKeys(source, {std::move(key)}, ts_ms);
}

void Delete(Instance* instance, const HttpRequest& req, HttpResponse* res) {
  const std::string& source = *req.PathParam("source");
  ParseError bad_row;
  Result<size_t> n = req.body.empty()
                         ? DeleteByQuery(instance, source, req)
                         : instance->tables()->Delete(source, req.body, BodyFormat(req), &bad_row);
  if (!n.ok()) {
    SetError(res, n.status(), ParseErrorDetailsToJson(bad_row));
    return;
  }
  Answer(res, source, "deleted", *n);
}

}  // namespace

Status RegisterTableRoutes(Router* router, Instance* instance) {
  RETURN_IF_ERROR(router->Add(
      "POST", "/v1/tables/{source}",
      [instance](const HttpRequest& req, HttpResponse* res) { Upsert(instance, req, res); },
      Runs::kOffIoThread));  // durable writes
  return router->Add(
      "DELETE", "/v1/tables/{source}",
      [instance](const HttpRequest& req, HttpResponse* res) { Delete(instance, req, res); },
      Runs::kOffIoThread);
}

}  // namespace freshet
