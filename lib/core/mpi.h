// The one MPI seam cokv has: a session the apps open at start (MPI_Init when cokv was built with
// MPI, COKV_MPI) and its rank, size, barrier and abort. Without MPI it is a single rank; an app
// launched by mpirun with several ranks then refuses to run (launcher_ranks() tells it: N copies
// of one job would race on one output folder).
#pragma once

namespace cokv {

class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  void barrier();
  [[noreturn]] void abort(int code);
  static bool built_with_mpi();
  // Ranks the launcher announced in the environment (1 for a plain run).
  static int launcher_ranks();

 private:
  int rank_ = 0, size_ = 1;
  bool initialized_ = false;
};

}  // namespace cokv
