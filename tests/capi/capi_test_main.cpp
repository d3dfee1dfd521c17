// main() of the C API and fault test programs. pm_worker_serve() comes
// first, so that the same programs run their maps in exec mode too
// (PARMAPPER_START=exec): a worker is then a fresh run of this program, and
// its work functions, plain functions of this executable, are found by
// where they lie in it.
#include <parmapper.h>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
    pm_worker_serve(argc, argv);  // never returns in a worker
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
