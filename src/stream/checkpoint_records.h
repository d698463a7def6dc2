// The small records a checkpoint stores beside the entity states (docs/exactly_once.md): each
// source's progress and its late events. Decoders check every byte they read and return a
// kIoError naming the source for anything they did not write. Internal to src/stream.
// Thread-safety: free functions with no shared state.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "stream/engine.h"

namespace freshet {

// "progress:<source>" -> u8 1, varint next_offset (partition 0), zigzag max_event_ms, varint
// late_events; or, with a partition other than 0, u8 2, zigzag max_event_ms, varint
// late_events, varint count, count x (varint partition, varint next_offset). A v1 record is
// partition 0 alone, so checkpoints written before partitions read unchanged.
std::string EncodeProgress(const SourceProgress& p);
Status DecodeProgress(std::string_view source, std::string_view bytes, SourceProgress* p);

// "<source>\0" + BE64 offset (+ BE32 partition unless it is 0) -> u8 1, zigzag watermark_ms,
// EncodeRecord bytes.
std::string LateKey(const LateEvent& e);
std::string EncodeLate(const LateEvent& e);
// `key` is the whole stored key, `source` its prefix before the '\0'.
Status DecodeLate(std::string_view source, std::string_view key, std::string_view value,
                  LateEvent* e);

}  // namespace freshet
