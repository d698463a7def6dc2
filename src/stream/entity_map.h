// EntityMap: the engine's per-shard, per-view table of resident entity states — an open-
// addressing hash table (linear probing, backward-shift deletion) of 16-byte slots {hash,
// entry}, so a lookup among a million entities costs about one cache miss for the slot and one
// for the entry, which embeds the key and the state. Internal to src/stream.
// Thread-safety: none; guarded by the shard mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stream/view_state.h"

namespace freshet {

// One entity of one view, resident in memory.
struct EntityEntry {
  EntityEntry(std::string k, uint64_t h, const CompiledView::Impl& plan)
      : key(std::move(k)), hash(h), state(plan) {}

  std::string key;  // EncodeEntityKey form
  uint64_t hash;
  ViewState state;
  size_t bytes = 0;         // state.MemoryBytes() when last accounted
  bool dirty = false;       // changed since the last checkpoint
  bool referenced = false;  // touched since the memory bound last looked (second chance)
};

class EntityMap {
 public:
  EntityMap() : slots_(kInitialSlots) {}

  EntityEntry* Find(uint64_t hash, std::string_view key) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (!s.entry) return nullptr;
      if (s.hash == hash && s.entry->key == key) return s.entry.get();
    }
  }

  // REQUIRES: no entry with the same key.
  EntityEntry* Insert(std::unique_ptr<EntityEntry> entry) {
    if ((size_ + 1) * 8 > slots_.size() * 7) Grow();
    EntityEntry* raw = entry.get();
    Place(raw->hash, std::move(entry));
    ++size_;
    return raw;
  }

  void Erase(const EntityEntry* entry) {
    const size_t mask = slots_.size() - 1;
    size_t i = entry->hash & mask;
    while (slots_[i].entry.get() != entry) i = (i + 1) & mask;
    slots_[i] = Slot();
    --size_;
    // Backward shift: move later members of the probe run into the hole when their home slot
    // does not lie cyclically in (hole, j].
    for (size_t j = (i + 1) & mask; slots_[j].entry; j = (j + 1) & mask) {
      size_t home = slots_[j].hash & mask;
      bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (!stays) {
        slots_[i] = std::move(slots_[j]);
        i = j;
      }
    }
  }

  // Software pipelining for batches: among a million entities both the slot and the entry
  // miss the cache, so the engine prefetches the home slot of a record further ahead, then
  // (once it landed) the entry of the first slot in the probe run with the record's hash: at a
  // high load factor the home slot often holds another key.
  void PrefetchSlot(uint64_t hash) const {
    __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]);
  }
  void PrefetchEntry(uint64_t hash) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (!s.entry) return;
      if (s.hash == hash) return PrefetchLines(s.entry.get());
    }
  }
  static void PrefetchLines(const EntityEntry* e) {
    for (size_t line = 0; line < sizeof(EntityEntry); line += 64) {
      __builtin_prefetch(reinterpret_cast<const char*>(e) + line);
    }
  }

  size_t size() const { return size_; }

  // Calls fn(EntityEntry*) for every entry. fn must not insert or erase.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& s : slots_) {
      if (s.entry) fn(s.entry.get());
    }
  }

 private:
  static constexpr size_t kInitialSlots = 16;
  struct Slot {
    uint64_t hash = 0;
    std::unique_ptr<EntityEntry> entry;
  };

  void Place(uint64_t hash, std::unique_ptr<EntityEntry> entry) {
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    while (slots_[i].entry) i = (i + 1) & mask;
    slots_[i] = Slot{hash, std::move(entry)};
  }

  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (Slot& s : old) {
      if (s.entry) Place(s.hash, std::move(s.entry));
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace freshet
