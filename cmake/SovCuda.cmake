# Finds the CUDA toolkit (nvcc + cuBLAS) at /usr/local/cuda or on the PATH. When it is found,
# SOV_HAVE_CUDA is ON and the CUDA language is enabled; otherwise everything else builds as usual.
set(SOV_HAVE_CUDA OFF)
if(SOV_ENABLE_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # Native code for Hopper (H100/H200), PTX that newer and older (>= Turing) GPUs JIT.
      set(CMAKE_CUDA_ARCHITECTURES "90-real;75-virtual")
    endif()
    # CMake 3.25 knows no C++20 flag for nvcc, and the project's CXX_STANDARD 20 would otherwise
    # be asked of the .cu files too; the kernels need only C++17 (nvcc's default).
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    enable_language(CUDA)
    find_package(CUDAToolkit)
    if(CUDAToolkit_FOUND AND TARGET CUDA::cublas)
      set(SOV_HAVE_CUDA ON)
      message(STATUS "CUDA ${CUDAToolkit_VERSION} found: the CUDA backend is built")
    endif()
  endif()
  if(NOT SOV_HAVE_CUDA)
    message(STATUS "CUDA toolkit not found: gpu-eval builds its CPU backend only")
  endif()
endif()
