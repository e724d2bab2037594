#!/usr/bin/env bash
# The one call to make on a lent GPU machine, from the project root:
#
#     bash benchmarks/gpu_call.sh            # about 8 minutes planned
#
# The machine has PyTorch and scikit-learn but not skorch: the wheels come
# along in .whl/ (skorch) and .whl_opt/ (scikit-learn, used only if the
# machine's is older than 1.6); benchmarks/README.rst says how to fetch them.
# It runs python -m benchmarks.gpu_check (arguments are passed on to it), then the
# test suite with the default device="auto", that is on CUDA. Everything,
# the log included, goes to $OUT (default /tmp/gpu_out).
#
# GPU_CALL_TESTS=0 skips the test suite; `bash benchmarks/gpu_call.sh
# --device cpu --tiny --skip-speed` smoke-tests the script without a GPU.
set -o pipefail
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
{
    date -u
    if ls .whl/*.whl >/dev/null 2>&1; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
            --target /tmp/site .whl/*.whl || exit 1
        export PYTHONPATH=/tmp/site:$PWD
    fi
    if ! python3 -c "from sklearn.utils.validation import validate_data" 2>/dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
            --target /tmp/site .whl_opt/*.whl || exit 1
        export PYTHONPATH=/tmp/site:$PWD
    fi
    python3 -c "import sklearn, skorch, torch, numpy; print('versions: sklearn',
        sklearn.__version__, 'skorch', skorch.__version__, 'torch', torch.__version__,
        'numpy', numpy.__version__)" || exit 1
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null
    export PYTHONUNBUFFERED=1
    timeout 400 python3 -m benchmarks.gpu_check --out "$OUT" "$@"
    echo "gpu_check exit status $?"
    date -u
    if [ "${GPU_CALL_TESTS:-1}" != 0 ]; then
        # test_distributed needs dask and ray, which the machine lacks.
        timeout 110 python3 -m pytest -q -n 8 -p no:cacheprovider \
            --ignore=tests/test_distributed.py
        echo "pytest exit status $?"
    fi
    date -u
} 2>&1 | tee "$OUT/run.log"
