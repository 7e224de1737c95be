#!/bin/sh
# Install Fashion-MNIST from the Debian/Ubuntu package where we can.
# Never fails: without the data, course_lib explains the three ways to get it.
DIR=/usr/share/datasets/fashion-mnist
if [ -f "$DIR/train-images-idx3-ubyte.gz" ] && [ -f "$DIR/t10k-labels-idx1-ubyte.gz" ]; then
    echo "Fashion-MNIST: found in $DIR"
    exit 0
fi
if [ -n "$COURSE_DATA_DIR" ]; then
    echo "Fashion-MNIST: COURSE_DATA_DIR=$COURSE_DATA_DIR is used"
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "Fashion-MNIST: installing the Debian package dataset-fashion-mnist"
    if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1; then
        echo "Fashion-MNIST: installed in $DIR"
        exit 0
    fi
    echo "Fashion-MNIST: apt-get could not install dataset-fashion-mnist (see python -m course_lib data)"
    exit 0
fi
echo "Fashion-MNIST: not installed. Run 'sudo apt-get install dataset-fashion-mnist', set COURSE_DATA_DIR, or let Keras download it on first use."
exit 0
