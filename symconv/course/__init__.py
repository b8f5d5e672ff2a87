"""For teaching staff: randomized exercise variants, sheets, and grading a whole course.

``symconv exercise`` (:mod:`symconv.course.exercise`) turns a template (a problem file with
``[vary]`` and ``[constraints]``) into one deterministic variant per student, with a question
sheet, a solution sheet and ``manifest.csv``; ``symconv grade`` (:mod:`symconv.course.grade`)
checks each submission against its own variant, scores it with a rubric and writes the
gradebook, feedback and Gradescope results.
"""
