"""Build gaus_fast: the Python package, the kernels package and the pybind11 C++ core."""
from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup

core = Pybind11Extension(
    "gaus_fast._core",
    sources=["csrc/module.cpp", "csrc/graph.cpp", "csrc/list_schedule.cpp", "csrc/legalize.cpp", "csrc/improve.cpp",
             "csrc/modulo.cpp"],
    include_dirs=["csrc"],
    cxx_std=17,
    extra_compile_args=["-O3"],
)

setup(
    name="gaus_fast",
    version="0.1.0",
    description="Fast differentiable operator scheduling with Gaussian start times (GauS)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=["gaus_fast", "gaus_fast.formats", "gaus_fast.kernels"],
    package_dir={"gaus_fast": "gaus_fast", "gaus_fast.kernels": "kernels"},
    ext_modules=[core],
    cmdclass={"build_ext": build_ext},
    install_requires=["numpy>=1.24", "torch>=2.1", "networkx>=3.0", "matplotlib>=3.7", "rich>=13"],
    extras_require={
        "numba": ["numba>=0.59"],
        "triton": ["triton>=3.2"],  # GPU kernels; on CPU the tests run them in the interpreter (TRITON_INTERPRET=1)
        "exact": ["highspy>=1.7", "ortools>=9.10"],  # exact baselines and --polish
        "test": ["pytest>=8", "hypothesis>=6.100", "numba>=0.59", "triton>=3.2", "highspy>=1.7", "ortools>=9.10"],
        "bench": ["pytest-benchmark>=4", "numba>=0.59", "highspy>=1.7", "ortools>=9.10"],
    },
    entry_points={"console_scripts": ["gaus-fast=gaus_fast.cli:main"]},
    zip_safe=False,
)
