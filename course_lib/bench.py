"""`python -m course_lib.bench [PART] [--profile NAME]`: the benchmarks' command line.

The parts and their measurements live in `course_lib.measure` (`measure.bench.parts`).
"""

from course_lib.measure.bench import main

if __name__ == "__main__":
    main()
