// A RocksDB file system that refuses writes on demand, as a full or failing disk does: every
// Append/Flush/Sync of a file opened for writing fails with the armed error until disarmed.
// Reads keep working (a full disk still reads).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

namespace edgemq::persistence::testing {

enum class fault : int { none, no_space, io_error };

class fault_injection_fs final : public rocksdb::FileSystemWrapper {
 public:
  fault_injection_fs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "fault_injection_fs"; }

  void arm(fault f) { fault_.store(f); }
  rocksdb::IOStatus check() const {
    switch (fault_.load()) {
      case fault::none:
        return rocksdb::IOStatus::OK();
      case fault::no_space:
        return rocksdb::IOStatus::NoSpace("injected: no space left on device");
      case fault::io_error:
        return rocksdb::IOStatus::IOError("injected: input/output error");
    }
    return rocksdb::IOStatus::OK();
  }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    if (auto st = check(); !st.ok()) return st;
    auto s = target()->NewWritableFile(f, o, r, dbg);
    if (s.ok()) *r = std::make_unique<file>(std::move(*r), *this);
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    if (auto st = check(); !st.ok()) return st;
    auto s = target()->ReopenWritableFile(f, o, r, dbg);
    if (s.ok()) *r = std::make_unique<file>(std::move(*r), *this);
    return s;
  }

 private:
  class file final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    file(std::unique_ptr<rocksdb::FSWritableFile> f, const fault_injection_fs& fs)
        : FSWritableFileOwnerWrapper(std::move(f)), fs_(fs) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* g) override {
      if (auto st = fs_.check(); !st.ok()) return st;
      return FSWritableFileOwnerWrapper::Append(d, o, g);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* g) override {
      if (auto st = fs_.check(); !st.ok()) return st;
      return FSWritableFileOwnerWrapper::Append(d, o, v, g);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& d, uint64_t off, const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* g) override {
      if (auto st = fs_.check(); !st.ok()) return st;
      return FSWritableFileOwnerWrapper::PositionedAppend(d, off, o, g);
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& o, rocksdb::IODebugContext* g) override {
      if (auto st = fs_.check(); !st.ok()) return st;
      return FSWritableFileOwnerWrapper::Flush(o, g);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* g) override {
      if (auto st = fs_.check(); !st.ok()) return st;
      return FSWritableFileOwnerWrapper::Sync(o, g);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* g) override {
      if (auto st = fs_.check(); !st.ok()) return st;
      return FSWritableFileOwnerWrapper::Fsync(o, g);
    }

   private:
    const fault_injection_fs& fs_;
  };
  std::atomic<fault> fault_{fault::none};
};

// The fault file system and an Env over it, for open_rocksdb().
struct faulty_env {
  std::shared_ptr<fault_injection_fs> fs = std::make_shared<fault_injection_fs>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
};

}  // namespace edgemq::persistence::testing
