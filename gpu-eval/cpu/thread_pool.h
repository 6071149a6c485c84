// A small persistent thread pool for the CPU backend: Run(tasks, fn) calls fn(0..tasks-1) on the
// calling thread and `threads - 1` workers, and returns when every call has finished. Tasks are
// handed out dynamically, so each task must write only its own outputs; results are then
// independent of which thread ran which task. Workers spin briefly after a job (a forward pass
// issues a few jobs per batch, microseconds apart) and then sleep on a condition variable; the
// caller never waits for a worker that has not started, so a busy machine slows a job down
// rather than stalling it.
//
// One caller at a time: Run is not reentrant and must not be called from two threads at once.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace sov::gpu_eval::internal {

class ThreadPool {
 public:
  // `threads` counts the caller: 1 means no worker threads at all.
  explicit ThreadPool(int threads) {
    for (int i = 1; i < std::max(threads, 1); ++i) workers_.emplace_back([this] { WorkerLoop(); });
  }

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(t) once for every t in [0, tasks), spread over the threads; returns when all are done.
  void Run(int64_t tasks, const std::function<void(int64_t)>& fn) {
    if (tasks <= 0) return;
    if (workers_.empty() || tasks == 1) {
      for (int64_t t = 0; t < tasks; ++t) fn(t);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &fn;
      tasks_ = tasks;
      next_task_.store(0, std::memory_order_relaxed);
      open_.store(true);  // publishes job_ and tasks_ to the workers that see it
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    Work();
    // Close the job, then wait only for the workers inside it. A worker that is slow to wake (the
    // machine is busy) finds the job closed and does nothing, instead of making the caller wait.
    open_.store(false);
    while (active_.load() != 0) Pause();
  }

 private:
  static void Pause() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
  }

  void Work() {
    for (int64_t t = next_task_.fetch_add(1, std::memory_order_relaxed); t < tasks_;
         t = next_task_.fetch_add(1, std::memory_order_relaxed)) {
      (*job_)(t);
    }
  }

  void WorkerLoop() {
    constexpr int kSpins = 4000;  // ~100 us: covers the gap between one layer's job and the next
    uint64_t seen = 0;
    while (true) {
      uint64_t generation = generation_.load(std::memory_order_acquire);
      for (int spin = 0; spin < kSpins && generation == seen; ++spin) {
        Pause();
        generation = generation_.load(std::memory_order_acquire);
      }
      if (generation == seen) {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        generation = generation_.load(std::memory_order_acquire);
      }
      seen = generation;
      if (stop_.load()) return;
      // Sequentially consistent with Run's close: either the caller waits for this worker, or
      // the worker sees the job closed (Dekker's pattern).
      active_.fetch_add(1);
      if (open_.load()) Work();
      active_.fetch_sub(1);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;  // pairs with wake_ for sleeping workers
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generation_{0};                // bumped for every job, and to stop
  std::atomic<bool> open_{false};                      // a job is running: workers may join it
  std::atomic<int> active_{0};                         // workers inside the current job
  const std::function<void(int64_t)>* job_ = nullptr;  // written before open_ is set
  int64_t tasks_ = 0;                                  // likewise
  std::atomic<int64_t> next_task_{0};
};

}  // namespace sov::gpu_eval::internal
