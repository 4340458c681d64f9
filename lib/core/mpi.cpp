#include "core/mpi.h"

#include <cstdlib>
#include <algorithm>

#ifdef COKV_HAVE_MPI
#include <mpi.h>
#endif

namespace cokv {

// Ranks mpirun announces through the environment (Open MPI, MPICH/Hydra).
int MpiSession::launcher_ranks() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* s = std::getenv(v)) return std::max(1, std::atoi(s));
  return 1;
}

#ifdef COKV_HAVE_MPI
MpiSession::MpiSession(int* argc, char*** argv) {
  if (launcher_ranks() <= 1) return;  // a plain run: no MPI_Init (it would need a launcher on some MPIs)
  MPI_Init(argc, argv);
  initialized_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}
MpiSession::~MpiSession() {
  if (initialized_) MPI_Finalize();
}
void MpiSession::barrier() {
  if (initialized_) MPI_Barrier(MPI_COMM_WORLD);
}
void MpiSession::abort(int code) {
  if (initialized_) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}
bool MpiSession::built_with_mpi() { return true; }
#else
MpiSession::MpiSession(int*, char***) {}
MpiSession::~MpiSession() = default;
void MpiSession::barrier() {}
void MpiSession::abort(int code) { std::exit(code); }
bool MpiSession::built_with_mpi() { return false; }
#endif

}  // namespace cokv
