#ifndef CMPI_SHIM_H
#define CMPI_SHIM_H
#include <mpi.h>

/* Swift imports only macros that are a literal or a fully parenthesised cast of one. MPICH
 * (Debian 12, 4.0.2) defines MPI_SUM as `(MPI_Op)(0x58000003)` and MPI_IN_PLACE as
 * `(void *) -1`, which Swift cannot import, so the handles atomtrack-mpi uses are re-exported
 * here as constants and functions (also right for Open MPI, whose handles are addresses). */
static const MPI_Comm     CMPI_COMM_WORLD = MPI_COMM_WORLD;
static const MPI_Datatype CMPI_FLOAT      = MPI_FLOAT;
static const MPI_Datatype CMPI_DOUBLE     = MPI_DOUBLE;
static const MPI_Op       CMPI_SUM        = MPI_SUM;

static inline void *cmpi_in_place(void) { return MPI_IN_PLACE; }

#endif
