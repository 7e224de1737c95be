# Two commands for newcomers: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup data browser lint sync test golden book execute links colab benchmark clean

## setup: create .venv with the pinned environment and course_lib (editable)
setup: $(STAMP) data

$(STAMP): requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## data: install Fashion-MNIST where we can; never fails
data:
	@sh scripts/install_data.sh

## browser: install headless Chromium for the browser test where we can; never fails
browser:
	@sh scripts/install_browser.sh

## lint: ruff (style, import order, line length 100) over the library, tests, scripts and chapters
lint: setup
	$(BIN)/ruff check .

## sync: carry edits of the chapters' text sources (book/NN_name.md) into their notebooks
sync: setup
	$(BIN)/jupytext --sync book/[0-9]*.ipynb

## test: lint, build the book, then the library tests and doctests, the browser test on the
##       built book, and every chapter notebook under nbval (fast profile)
test: setup browser lint book
	$(BIN)/pytest --nbval

## golden: record every value the chapters glue in a fast-profile run (tests/golden/*.json);
##         review the diff: the tests compare the next runs with it
golden: setup
	COURSE_PROFILE=fast COURSE_GOLDEN=write $(BIN)/pytest --nbval book

## book: build the HTML book from the notebooks' stored outputs
book: setup
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "The book is in $(CURDIR)/_build/html/index.html"

## execute: re-run every chapter in the full profile and store the outputs
execute: setup
	COURSE_PROFILE=full $(BIN)/python scripts/execute_notebooks.py

## links: refresh each chapter's "Library functions used in this chapter" cell
links: setup
	$(BIN)/python scripts/library_links.py
	$(BIN)/jupytext --sync book/[0-9]*.ipynb

## colab: give each chapter the hidden cell that installs the course on Colab
colab: setup
	$(BIN)/python scripts/colab_cell.py
	$(BIN)/jupytext --sync book/[0-9]*.ipynb

clean:
	rm -rf _build
