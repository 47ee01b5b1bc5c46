"""Builds the optional C half of the statement readers (src/bankgate/formats/_speedups.pyx).

Everything else about the package is in pyproject.toml. Without Cython or a C compiler the
package still installs and reads every file, in Python (formats/speedups.py).
"""

from setuptools import Extension, setup


def _extensions() -> list[Extension]:
    try:
        import lxml
        from Cython.Build import cythonize
    except ImportError:
        return []
    return cythonize(
        [Extension("bankgate.formats._speedups", ["src/bankgate/formats/_speedups.pyx"],
                   include_dirs=lxml.get_include(), optional=True),
         Extension("bankgate.formats.swift._mt940_speedups",
                   ["src/bankgate/formats/swift/_mt940_speedups.pyx"], optional=True)],
        compiler_directives={"language_level": "3"}, quiet=True)


setup(ext_modules=_extensions())
